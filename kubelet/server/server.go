package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/klog/v2"

	corev1api "github.com/skiffhq/skiff/apis/core/v1"
	"github.com/skiffhq/skiff/kubelet"
	"github.com/skiffhq/skiff/kubelet/logs"
)

// Timeouts of streaming connections, upstream's defaults.
const (
	streamIdleTimeout     = 4 * time.Hour
	streamCreationTimeout = remotecommand.DefaultStreamCreationTimeout
)

// Config is what a node's server serves.
type Config struct {
	// NodeName is the node; requests are authorized against it.
	NodeName string
	// Pod finds a pod bound to this node.
	Pod func(namespace, name string) (*corev1.Pod, error)
	// Pods lists the pods bound to this node (for /stats/summary).
	Pods func() []*corev1.Pod
	// Streamer reaches the node's containers.
	Streamer kubelet.Streamer
	// Authenticator and Authorizer check each request; both are required.
	Authenticator authenticator.Request
	Authorizer    authorizer.Authorizer
}

// Server serves one node.
type Server struct {
	cfg    Config
	params runtime.ParameterCodec
	rates  rates
}

// New checks cfg.
func New(cfg Config) (*Server, error) {
	if cfg.NodeName == "" || cfg.Pod == nil || cfg.Streamer == nil || cfg.Authenticator == nil || cfg.Authorizer == nil {
		return nil, errors.New("kubelet server: node name, pod lookup, streamer, authenticator and authorizer are required")
	}
	scheme := runtime.NewScheme()
	if err := corev1api.Install(scheme); err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, params: runtime.NewParameterCodec(scheme)}, nil
}

// Handler is the server's HTTP handler, authentication and authorization
// included.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", s.containerLogs)
	mux.HandleFunc("/exec/{ns}/{pod}/{container}", s.exec)
	mux.HandleFunc("/attach/{ns}/{pod}/{container}", s.attach)
	mux.HandleFunc("/portForward/{ns}/{pod}", s.portForward)
	mux.HandleFunc("GET /stats/summary", s.summary)
	return s.withAuth(mux)
}

// Serve listens on addr with the TLS config (a serving certificate and
// the client CA) until ctx ends.
func (s *Server) Serve(ctx context.Context, addr string, tlsConfig *tls.Config) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("kubelet server: %w", err)
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          nil,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		// SPDY upgrades need HTTP/1.1.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	klog.FromContext(ctx).Info("node agent serving", "address", ln.Addr().String(), "node", s.cfg.NodeName)
	if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("kubelet server: %w", err)
	}
	return nil
}

// withAuth authenticates and authorizes as upstream's kubelet: nodes/log,
// nodes/stats, nodes/metrics by path, nodes/proxy for the rest; exec,
// attach and port-forward need create.
func (s *Server) withAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		resp, ok, err := s.cfg.Authenticator.AuthenticateRequest(req)
		if err != nil || !ok {
			if err != nil {
				klog.FromContext(req.Context()).V(2).Info("kubelet server: authentication failed", "err", err)
			}
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		attrs := requestAttributes(resp.User, req, s.cfg.NodeName)
		decision, reason, err := s.cfg.Authorizer.Authorize(req.Context(), attrs)
		if err != nil {
			http.Error(w, fmt.Sprintf("Authorization error (user=%s, verb=%s, resource=nodes, subresource=%s): %v",
				resp.User.GetName(), attrs.Verb, attrs.Subresource, err), http.StatusInternalServerError)
			return
		}
		if decision != authorizer.DecisionAllow {
			msg := fmt.Sprintf("Forbidden (user=%s, verb=%s, resource=nodes, subresource=%s)", resp.User.GetName(), attrs.Verb, attrs.Subresource)
			if reason != "" {
				msg += ": " + reason
			}
			http.Error(w, msg, http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, req)
	})
}

func requestAttributes(u user.Info, req *http.Request, node string) authorizer.AttributesRecord {
	verb := "get"
	switch req.Method {
	case http.MethodPost:
		verb = "create"
	case http.MethodPut:
		verb = "update"
	case http.MethodPatch:
		verb = "patch"
	case http.MethodDelete:
		verb = "delete"
	}
	sub := "proxy"
	path := req.URL.Path
	switch {
	case strings.HasPrefix(path, "/stats"):
		sub = "stats"
	case strings.HasPrefix(path, "/metrics"):
		sub = "metrics"
	case strings.HasPrefix(path, "/logs"):
		sub = "log"
	}
	for _, p := range []string{"/exec/", "/attach/", "/portForward/", "/run/"} {
		if strings.HasPrefix(path, p) {
			verb = "create"
		}
	}
	return authorizer.AttributesRecord{
		User:            u,
		Verb:            verb,
		Resource:        "nodes",
		Subresource:     sub,
		Name:            node,
		ResourceRequest: true,
		Path:            path,
	}
}

// pod finds the request's pod, answering 404 itself when there is none.
func (s *Server) pod(w http.ResponseWriter, req *http.Request) (*corev1.Pod, bool) {
	pod, err := s.cfg.Pod(req.PathValue("ns"), req.PathValue("pod"))
	if apierrors.IsNotFound(err) || (err == nil && pod == nil) {
		http.Error(w, fmt.Sprintf("pod %s/%s does not exist on node %s", req.PathValue("ns"), req.PathValue("pod"), s.cfg.NodeName), http.StatusNotFound)
		return nil, false
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return nil, false
	}
	return pod, true
}

// writeError answers a runtime error: the runtime's not-found errors as
// 404 with their message, others as 500.
func writeError(w http.ResponseWriter, err error, notFound int) {
	var nf *kubelet.NotFoundError
	if errors.As(err, &nf) {
		http.Error(w, nf.Message, notFound)
		return
	}
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

func (s *Server) containerLogs(w http.ResponseWriter, req *http.Request) {
	pod, ok := s.pod(w, req)
	if !ok {
		return
	}
	name := req.PathValue("container")
	if kubelet.ContainerByName(pod, name) == nil {
		http.Error(w, fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name), http.StatusBadRequest)
		return
	}
	var opts corev1.PodLogOptions
	if err := s.params.DecodeParameters(req.URL.Query(), corev1.SchemeGroupVersion, &opts); err != nil {
		http.Error(w, fmt.Sprintf("unable to decode query: %v", err), http.StatusBadRequest)
		return
	}
	id, msg := logContainerID(pod, name, opts.Previous)
	if msg != "" {
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	path, running, err := s.cfg.Streamer.LogFile(req.Context(), pod, id)
	if err != nil {
		writeError(w, err, http.StatusBadRequest)
		return
	}
	lo := logs.Options{Tail: -1, Timestamps: opts.Timestamps, Follow: opts.Follow, Running: running}
	if opts.TailLines != nil {
		lo.Tail = *opts.TailLines
	}
	if opts.LimitBytes != nil {
		lo.LimitBytes = *opts.LimitBytes
	}
	switch {
	case opts.SinceSeconds != nil:
		lo.Since = time.Now().Add(-time.Duration(*opts.SinceSeconds) * time.Second)
	case opts.SinceTime != nil:
		lo.Since = opts.SinceTime.Time
	}
	if opts.Stream != nil {
		switch *opts.Stream {
		case corev1.LogStreamStdout:
			lo.Stream = logs.Stdout
		case corev1.LogStreamStderr:
			lo.Stream = logs.Stderr
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	out := &flushWriter{w: w}
	if f, ok := w.(http.Flusher); ok && opts.Follow {
		out.f = f
	}
	if err := logs.Read(req.Context(), path, lo, out); err != nil {
		klog.FromContext(req.Context()).V(2).Info("serving logs", "pod", klog.KObj(pod), "container", name, "err", err)
	}
}

// logContainerID picks the container instance whose log is served from
// the pod's status, as upstream's kubelet: with previous the last
// terminated one, else the running one, else the one that ended last;
// otherwise a message saying why there is none.
func logContainerID(pod *corev1.Pod, name string, previous bool) (string, string) {
	var st *corev1.ContainerStatus
	for _, list := range [][]corev1.ContainerStatus{pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses, pod.Status.EphemeralContainerStatuses} {
		for i := range list {
			if list[i].Name == name {
				st = &list[i]
			}
		}
	}
	if st == nil {
		return "", fmt.Sprintf("container %q in pod %q is not available", name, pod.Name)
	}
	last := st.LastTerminationState.Terminated
	switch {
	case previous:
		if last == nil || last.ContainerID == "" {
			return "", fmt.Sprintf("previous terminated container %q in pod %q not found", name, pod.Name)
		}
		return last.ContainerID, ""
	case st.State.Running != nil:
		return st.ContainerID, ""
	case st.State.Terminated != nil:
		if id := st.State.Terminated.ContainerID; id != "" {
			return id, ""
		}
		if last != nil && last.ContainerID != "" {
			return last.ContainerID, ""
		}
		return "", fmt.Sprintf("container %q in pod %q is terminated", name, pod.Name)
	case last != nil:
		if last.ContainerID == "" {
			return "", fmt.Sprintf("container %q in pod %q is terminated", name, pod.Name)
		}
		return last.ContainerID, ""
	case st.State.Waiting != nil:
		switch reason := st.State.Waiting.Reason; reason {
		case kubelet.ReasonErrImagePull:
			return "", fmt.Sprintf("container %q in pod %q is waiting to start: image can't be pulled", name, pod.Name)
		case kubelet.ReasonImagePullBackOff:
			return "", fmt.Sprintf("container %q in pod %q is waiting to start: trying and failing to pull image", name, pod.Name)
		default:
			return "", fmt.Sprintf("container %q in pod %q is waiting to start: %s", name, pod.Name, reason)
		}
	}
	return st.ContainerID, ""
}

type flushWriter struct {
	w http.ResponseWriter
	f http.Flusher
}

func (f *flushWriter) Write(p []byte) (int, error) { return f.w.Write(p) }

// Flush is called by logs.Read each time it caught up.
func (f *flushWriter) Flush() {
	if f.f != nil {
		f.f.Flush()
	}
}

// streamTarget finds the pod, container and stream options of an exec or
// attach request, answering errors itself.
func (s *Server) streamTarget(w http.ResponseWriter, req *http.Request) (*corev1.Pod, string, *remotecommand.Options, bool) {
	pod, ok := s.pod(w, req)
	if !ok {
		return nil, "", nil, false
	}
	name := req.PathValue("container")
	if kubelet.ContainerByName(pod, name) == nil {
		http.Error(w, fmt.Sprintf("container not found (%q)", name), http.StatusNotFound)
		return nil, "", nil, false
	}
	opts, err := remotecommand.NewOptions(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return nil, "", nil, false
	}
	return pod, name, opts, true
}

func (s *Server) exec(w http.ResponseWriter, req *http.Request) {
	pod, name, opts, ok := s.streamTarget(w, req)
	if !ok {
		return
	}
	cmd := req.URL.Query()["command"]
	if len(cmd) == 0 {
		http.Error(w, "you must specify a command", http.StatusBadRequest)
		return
	}
	remotecommand.ServeExec(w, req, execAdapter{s.cfg.Streamer, pod}, pod.Name, string(pod.UID), name, cmd, opts,
		streamIdleTimeout, streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

func (s *Server) attach(w http.ResponseWriter, req *http.Request) {
	pod, name, opts, ok := s.streamTarget(w, req)
	if !ok {
		return
	}
	remotecommand.ServeAttach(w, req, execAdapter{s.cfg.Streamer, pod}, pod.Name, string(pod.UID), name, opts,
		streamIdleTimeout, streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

func (s *Server) portForward(w http.ResponseWriter, req *http.Request) {
	pod, ok := s.pod(w, req)
	if !ok {
		return
	}
	opts, err := portforward.NewV4Options(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	portforward.ServePortForward(w, req, execAdapter{s.cfg.Streamer, pod}, pod.Name, string(pod.UID), opts,
		streamIdleTimeout, streamCreationTimeout, portforward.SupportedProtocols)
}

// execAdapter binds the streaming library's callbacks to the pod.
type execAdapter struct {
	st  kubelet.Streamer
	pod *corev1.Pod
}

func (a execAdapter) ExecInContainer(ctx context.Context, _, _, container string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	return a.st.Exec(ctx, a.pod, container, cmd, in, out, errw, tty, resize)
}

func (a execAdapter) AttachContainer(ctx context.Context, _, _, container string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	return a.st.Attach(ctx, a.pod, container, in, out, errw, tty, resize)
}

func (a execAdapter) PortForward(ctx context.Context, _, _ string, port int32, stream io.ReadWriteCloser) error {
	return a.st.PortForward(ctx, a.pod, port, stream)
}
