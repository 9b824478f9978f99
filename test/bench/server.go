package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Server is a `skiff server` a benchmark runs.
type Server struct {
	Cmd    *exec.Cmd
	Client kubernetes.Interface
	stop   func()
}

// StartServer runs `bin server --data-dir dir --secure-port (free) args…`
// and waits, within ctx, until wantNodes of its nodes are Ready and
// untainted (schedulable); its
// client has no rate limits. Stop it with Stop.
func StartServer(ctx context.Context, bin, dir string, wantNodes int, args ...string) *Server {
	// SKIFF_BENCH_SERVER_ARGS adds flags, such as -v=4 with SKIFF_BENCH_SERVER_LOG.
	args = append(args, strings.Fields(os.Getenv("SKIFF_BENCH_SERVER_ARGS"))...)
	cmd := exec.Command(bin, append([]string{"server", "--data-dir", dir, "--secure-port", strconv.Itoa(FreePort())}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if path := os.Getenv("SKIFF_BENCH_SERVER_LOG"); path != "" {
		// The server's log, for looking into a figure.
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		Must(err)
		cmd.Stdout, cmd.Stderr = f, f
	}
	Must(cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	s := &Server{Cmd: cmd}
	s.stop = Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-exited
		exited <- nil // for a later look
	})
	for {
		cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig"))
		if err == nil {
			cfg.QPS, cfg.Burst = -1, 0
			if c, err := kubernetes.NewForConfig(cfg); err == nil {
				if list, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil && readyNodes(list.Items) == wantNodes {
					s.Client = c
					return s
				}
			}
		}
		if ctx.Err() != nil {
			Must(fmt.Errorf("the server's nodes did not become ready (%d wanted): %w", wantNodes, ctx.Err()))
		}
		select {
		case err := <-exited:
			exited <- err
			Must(fmt.Errorf("the server exited before it was ready (%v); SKIFF_BENCH_SERVER_LOG=FILE keeps its log", err))
		default:
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop ends the server (SIGTERM) and waits for it.
func (s *Server) Stop() { s.stop() }

// TempDir is a new temporary directory, removed when the benchmark ends
// if remove has not been called before.
func TempDir(prefix string) (dir string, remove func()) {
	dir, err := os.MkdirTemp("", prefix)
	Must(err)
	return dir, Cleanup(func() { _ = os.RemoveAll(dir) })
}

func readyNodes(nodes []corev1.Node) int {
	n := 0
	for _, node := range nodes {
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue && len(node.Spec.Taints) == 0 {
				n++
			}
		}
	}
	return n
}

// ProfileDir is where benchmarks save the server's CPU and heap profiles
// (SKIFF_BENCH_PROFILE; none when empty), for `go tool pprof`.
func ProfileDir() string { return os.Getenv("SKIFF_BENCH_PROFILE") }

// Profile saves the server's CPU profile over d (kind "profile") or its
// heap profile (kind "heap") as ProfileDir()/name, when ProfileDir is
// set. It runs in the background for CPU profiles; wait for the returned
// channel.
func (s *Server) Profile(ctx context.Context, kind, name string, d time.Duration) <-chan struct{} {
	done := make(chan struct{})
	dir := ProfileDir()
	if dir == "" {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		req := s.Client.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/" + kind)
		if kind == "profile" {
			req = req.Param("seconds", strconv.Itoa(max(1, int(d.Seconds()))))
		}
		data, err := req.DoRaw(ctx)
		if err != nil {
			fmt.Fprintf(os.Stderr, "no %s profile of the server: %v\n", kind, err)
			return
		}
		Must(os.MkdirAll(dir, 0o755))
		Must(os.WriteFile(filepath.Join(dir, name), data, 0o644))
		fmt.Fprintf(os.Stderr, "saved %s\n", filepath.Join(dir, name))
	}()
	return done
}

// StartNodeServer runs a server whose own node runs pods in containerd
// (root), on a bridge, pod network, kubelet and DNS port of its own, and
// waits within ctx for the node to be Ready. Stopping it (Stop, or the
// benchmark's end) also removes what the node left on the machine:
// containers, network namespaces, the bridge, nftables tables.
func StartNodeServer(ctx context.Context, bin, dir string, args ...string) *Server {
	bridge := fmt.Sprintf("skb%d", os.Getpid()%100000)
	undoNode := Cleanup(func() {
		cmd := exec.Command(bin, "agent", "--cleanup", "--data-dir", dir, "--pod-bridge", bridge)
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "skiff agent --cleanup: %v\n%s", err, out)
		}
	})
	s := StartServer(ctx, bin, dir, 1, append([]string{"--runtime", "containerd", "--node-name", "bench", "--pod-bridge", bridge,
		"--cluster-cidr", "10.253.0.0/16", "--kubelet-port", strconv.Itoa(FreePort()), "--cluster-dns-port", strconv.Itoa(FreePort())},
		args...)...)
	stopServer := s.stop
	s.stop = func() {
		stopServer()
		undoNode()
	}
	return s
}
