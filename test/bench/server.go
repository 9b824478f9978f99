package bench

import (
	"context"
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
	s := &Server{Cmd: cmd}
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
			s.Stop()
			panic("the server's nodes did not become ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop ends the server (SIGTERM) and waits for it.
func (s *Server) Stop() {
	_ = s.Cmd.Process.Signal(syscall.SIGTERM)
	_, _ = s.Cmd.Process.Wait()
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
