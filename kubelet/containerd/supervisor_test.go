package containerd

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// needContainerd skips unless the machine can run containerd; make test
// installs it first (hack/install-deps.sh).
func needContainerd(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("containerd needs root")
	}
	if _, err := exec.LookPath("containerd"); err != nil {
		t.Skip("containerd is not installed (hack/install-deps.sh)")
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSupervisorRestartsAndStops(t *testing.T) {
	needContainerd(t)
	dir := t.TempDir()
	s := &Supervisor{Dir: dir}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx) }()

	waitCtx, waitCancel := context.WithTimeout(ctx, 20*time.Second)
	defer waitCancel()
	if err := s.WaitReady(waitCtx); err != nil {
		t.Fatal(err)
	}
	first := s.PID()
	if first == 0 {
		t.Fatal("ready but no PID")
	}
	cfg, err := os.ReadFile(dir + "/config.toml")
	if err != nil || !strings.Contains(string(cfg), s.Address()) || !strings.Contains(string(cfg), `"io.containerd.grpc.v1.cri"`) {
		t.Fatalf("config: %v\n%s", err, cfg)
	}

	// containerd dies: the supervisor starts another one.
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a new containerd", func() bool { p := s.PID(); return p != 0 && p != first })
	if err := s.WaitReady(waitCtx); err != nil {
		t.Fatal(err)
	}
	second := s.PID()

	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if err := syscall.Kill(second, 0); err == nil {
		t.Fatalf("containerd %d still runs after stop", second)
	}
}

func TestLongDataDirGetsShortSocket(t *testing.T) {
	s := &Supervisor{Dir: "/tmp/" + strings.Repeat("d", 120)}
	if a := s.Address(); len(a) > maxSocketPath || !strings.HasPrefix(a, "/run/skiff/") {
		t.Fatalf("address %q", a)
	}
	if a := (&Supervisor{Dir: "/tmp/x"}).Address(); a != "/tmp/x/containerd.sock" {
		t.Fatalf("address %q", a)
	}
}
