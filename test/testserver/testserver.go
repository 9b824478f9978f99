package testserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// Binary returns the skiff binary to test: $SKIFF_BIN, or one built from
// this checkout into bin/test/ (once per test process; git ignores bin/,
// and the next run overwrites it instead of leaving temp dirs behind).
func Binary() (string, error) {
	if b := os.Getenv("SKIFF_BIN"); b != "" {
		return b, nil
	}
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(root, "bin", "test", "skiff")
		// The same version stamps as `make build`: kubectl refuses an
		// unparsable client version.
		ldflags := "-X k8s.io/component-base/version.gitVersion=v1.37.2+skiff.test -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37"
		cmd := exec.Command("go", "build", "-ldflags", ldflags, "-o", builtBin, "./cmd/skiff")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building skiff: %v\n%s", err, out)
		}
	})
	return builtBin, buildErr
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found")
		}
		dir = parent
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Server is a running skiff server process.
type Server struct {
	DataDir    string
	Port       int
	Kubeconfig string
	Args       []string
	Log        string

	cmd  *exec.Cmd
	done chan error
}

// Start runs `skiff server` with a fresh data dir and waits until it is
// ready; the server is stopped when the test ends. Unless the arguments
// choose a --runtime, the server runs without a node on this machine
// (--disable-agent), so tests do not share the machine's containerd,
// bridge and node name.
func Start(t testing.TB, extraArgs ...string) *Server {
	t.Helper()
	return StartIn(t, t.TempDir(), extraArgs...)
}

// StartIn is Start with the data dir given.
func StartIn(t testing.TB, dataDir string, extraArgs ...string) *Server {
	t.Helper()
	s := &Server{DataDir: dataDir}
	s.Args = extraArgs
	if !slices.ContainsFunc(extraArgs, func(a string) bool {
		return strings.HasPrefix(a, "--runtime") || strings.HasPrefix(a, "--disable-agent")
	}) {
		s.Args = append([]string{"--disable-agent"}, extraArgs...)
	}
	if !slices.ContainsFunc(s.Args, func(a string) bool { return strings.HasPrefix(a, "--kubelet-port") }) {
		// The node agent's port, free so that servers can run side by side.
		port, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		s.Args = append(s.Args, "--kubelet-port", strconv.Itoa(port))
	}
	if !slices.ContainsFunc(s.Args, func(a string) bool { return strings.HasPrefix(a, "--cluster-dns-port") }) {
		// The node's DNS port, likewise (53 may be taken, or in use by
		// another test's node on this machine).
		port, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		s.Args = append(s.Args, "--cluster-dns-port", strconv.Itoa(port))
	}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.Stop()
		if t.Failed() {
			log, _ := os.ReadFile(s.Log)
			t.Logf("--- server log (tail) ---\n%s", tail(log, 6000))
		}
	})
	return s
}

// Restart stops the server (SIGTERM) and starts it again on the same data dir.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.Stop(); err != nil {
		t.Fatalf("stopping: %v", err)
	}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
}

// KillAndRestart kills the server with SIGKILL and starts it again.
func (s *Server) KillAndRestart(t testing.TB) {
	t.Helper()
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.done
		s.cmd = nil
	}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
}

func (s *Server) start() error {
	bin, err := Binary()
	if err != nil {
		return err
	}
	if s.Port == 0 {
		if s.Port, err = FreePort(); err != nil {
			return err
		}
	}
	s.Log = filepath.Join(s.DataDir, "server.log")
	logFile, err := os.OpenFile(s.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	args := append([]string{"server", "--data-dir", s.DataDir, "--secure-port", strconv.Itoa(s.Port)}, s.Args...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting %s: %w", bin, err)
	}
	s.cmd = cmd
	s.done = make(chan error, 1)
	go func() {
		s.done <- cmd.Wait()
		logFile.Close()
	}()
	s.Kubeconfig = filepath.Join(s.DataDir, "kubeconfig")
	if err := s.waitReady(60 * time.Second); err != nil {
		_ = s.Stop()
		log, _ := os.ReadFile(s.Log)
		return fmt.Errorf("server not ready: %w\n--- server log (tail) ---\n%s", err, tail(log, 4000))
	}
	return nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func (s *Server) waitReady(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		select {
		case err := <-s.done:
			s.done <- err
			return false, fmt.Errorf("server exited: %v", err)
		default:
		}
		cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
		if err != nil {
			return false, nil
		}
		c, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return false, nil
		}
		body, err := c.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err != nil || string(body) != "ok" {
			return false, nil
		}
		// The bootstrap namespaces exist once the server is ready.
		_, err = c.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
}

// Stop sends SIGTERM and waits for the process to exit.
func (s *Server) Stop() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	var err error
	select {
	case err = <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		err = <-s.done
		err = fmt.Errorf("server did not exit within 30s of SIGTERM (killed): %v", err)
	}
	s.cmd = nil
	return err
}

// RESTConfig returns an admin client config.
func (s *Server) RESTConfig(t testing.TB) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	return cfg
}

// Client returns an admin clientset.
func (s *Server) Client(t testing.TB) kubernetes.Interface {
	t.Helper()
	c, err := kubernetes.NewForConfig(s.RESTConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Kubectl runs the kubectl on PATH against the server and returns its
// combined output. Its discovery cache lives in the data dir: the shared
// one in $HOME is keyed by host:port, which an earlier server on the same
// port may have filled with other resources.
func (s *Server) Kubectl(args ...string) (string, error) {
	pre := []string{"--kubeconfig", s.Kubeconfig, "--cache-dir", filepath.Join(s.DataDir, "kubectl-cache")}
	cmd := exec.Command("kubectl", append(pre, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// KubectlOutput runs kubectl like Kubectl but keeps its standard output
// and standard error apart: kubectl logs some client-side noise to
// stderr (its WebSocket client's "Unknown stream id" when data races the
// creation of its streams), which must not be taken for a command's output.
func (s *Server) KubectlOutput(args ...string) (stdout, stderr string, err error) {
	pre := []string{"--kubeconfig", s.Kubeconfig, "--cache-dir", filepath.Join(s.DataDir, "kubectl-cache")}
	cmd := exec.Command("kubectl", append(pre, args...)...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// KubectlCmd is a kubectl command against the server, not started, for
// what runs in the background (logs -f, port-forward); the caller stops
// it by PID.
func (s *Server) KubectlCmd(args ...string) *exec.Cmd {
	pre := []string{"--kubeconfig", s.Kubeconfig, "--cache-dir", filepath.Join(s.DataDir, "kubectl-cache")}
	cmd := exec.Command("kubectl", append(pre, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// KubectlStdin runs kubectl with stdin, e.g. for `apply -f -`.
func (s *Server) KubectlStdin(stdin string, args ...string) (string, error) {
	pre := []string{"--kubeconfig", s.Kubeconfig, "--cache-dir", filepath.Join(s.DataDir, "kubectl-cache")}
	cmd := exec.Command("kubectl", append(pre, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Eventually retries f until it returns nil, failing the test with f's
// last error when timeout passes.
func Eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("not within %s: %v", timeout, err)
}

// SyncBuffer is a bytes buffer safe for a writer and a reader in
// different goroutines (a background command's output, a stream).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
