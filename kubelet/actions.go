package kubelet

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilexec "k8s.io/utils/exec"
)

// action is what a probe or a lifecycle hook does: one of exec, httpGet,
// tcpSocket, grpc, sleep.
type action struct {
	Exec      *corev1.ExecAction
	HTTPGet   *corev1.HTTPGetAction
	TCPSocket *corev1.TCPSocketAction
	GRPC      *corev1.GRPCAction
	Sleep     *corev1.SleepAction
}

func probeAction(p *corev1.Probe) action {
	return action{Exec: p.Exec, HTTPGet: p.HTTPGet, TCPSocket: p.TCPSocket, GRPC: p.GRPC}
}

func hookAction(h *corev1.LifecycleHandler) action {
	return action{Exec: h.Exec, HTTPGet: h.HTTPGet, TCPSocket: h.TCPSocket, Sleep: h.Sleep}
}

// maxActionOutput bounds what of an exec's output ends up in an event.
const maxActionOutput = 10 * 1024

// probeUserAgent is the User-Agent of HTTP and gRPC probes, as
// upstream's: kube-probe/MAJOR.MINOR.
func probeUserAgent() string {
	parts := strings.SplitN(strings.TrimPrefix(KubeletVersion, "v"), ".", 3)
	if len(parts) < 2 {
		return "kube-probe/" + KubeletVersion
	}
	return "kube-probe/" + parts[0] + "." + parts[1]
}

// errActionFailed is an action that ran and failed (non-zero exit, HTTP
// status ≥ 400, refused connection); other errors are the node's.
type actionFailure struct{ msg string }

func (e *actionFailure) Error() string { return e.msg }

// runAction runs a in the pod's container c within timeout. It returns
// the output of a successful run; a failed run is an *actionFailure.
func runAction(ctx context.Context, st Streamer, pod *corev1.Pod, c *corev1.Container, a action, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case a.Exec != nil:
		if st == nil {
			return "", errors.New("this node cannot run commands in containers")
		}
		out := &limitedBuffer{max: maxActionOutput}
		err := st.Exec(ctx, pod, c.Name, a.Exec.Command, nil, out, out, false, nil)
		var exitErr utilexec.ExitError
		switch {
		case err == nil:
			return out.String(), nil
		case errors.As(err, &exitErr):
			return "", &actionFailure{msg: strings.TrimSpace(out.String())}
		case ctx.Err() != nil:
			return "", &actionFailure{msg: fmt.Sprintf("command %q timed out", strings.Join(a.Exec.Command, " "))}
		}
		return "", err
	case a.HTTPGet != nil:
		return httpAction(ctx, pod, c, a.HTTPGet)
	case a.TCPSocket != nil:
		port, err := resolvePort(a.TCPSocket.Port, c)
		if err != nil {
			return "", &actionFailure{msg: err.Error()}
		}
		host := a.TCPSocket.Host
		if host == "" {
			host = pod.Status.PodIP
		}
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return "", &actionFailure{msg: fmt.Sprintf("dial tcp %s: %v", addr, errors.Unwrap(err))}
		}
		conn.Close()
		return "", nil
	case a.GRPC != nil:
		addr := net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(int(a.GRPC.Port)))
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithUserAgent(probeUserAgent()))
		if err != nil {
			return "", &actionFailure{msg: fmt.Sprintf("failed to connect service %q: %v", addr, err)}
		}
		defer conn.Close()
		service := ""
		if a.GRPC.Service != nil {
			service = *a.GRPC.Service
		}
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			return "", &actionFailure{msg: fmt.Sprintf("failed to connect service %q within %s: %v", addr, timeout, err)}
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return "", &actionFailure{msg: fmt.Sprintf("service unhealthy (responded with %q)", resp.GetStatus())}
		}
		return "", nil
	case a.Sleep != nil:
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(a.Sleep.Seconds) * time.Second):
		}
		return "", nil
	}
	return "", errors.New("no action given")
}

func httpAction(ctx context.Context, pod *corev1.Pod, c *corev1.Container, g *corev1.HTTPGetAction) (string, error) {
	port, err := resolvePort(g.Port, c)
	if err != nil {
		return "", &actionFailure{msg: err.Error()}
	}
	host := g.Host
	if host == "" {
		host = pod.Status.PodIP
	}
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))}
	if parsed, err := url.Parse(path); err == nil {
		u.Path, u.RawQuery = parsed.Path, parsed.RawQuery
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", &actionFailure{msg: err.Error()}
	}
	req.Header.Set("User-Agent", probeUserAgent())
	req.Header.Set("Accept", "*/*")
	for _, h := range g.HTTPHeaders {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // probes do not verify, as upstream
		DisableKeepAlives: true,
		Proxy:             nil,
	}}
	resp, err := client.Do(req)
	if err != nil {
		return "", &actionFailure{msg: fmt.Sprintf("Get %q: %v", u.String(), unwrapURLError(err))}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxActionOutput))
	if resp.StatusCode >= http.StatusOK && resp.StatusCode < http.StatusBadRequest {
		return string(body), nil
	}
	return "", &actionFailure{msg: fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode)}
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// resolvePort finds a probe's port, by number or by the name of one of
// the container's ports.
func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		if p.IntVal < 1 || p.IntVal > 65535 {
			return 0, fmt.Errorf("invalid port number: %d", p.IntVal)
		}
		return int(p.IntVal), nil
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("couldn't find port: %v in %v", p.StrVal, c.Name)
}

// limitedBuffer keeps the first max bytes written to it, from several
// streams at once.
type limitedBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.max - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) Close() error { return nil }

func (l *limitedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}
