package containerd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/klog/v2"
)

// maxSocketPath is what fits in a unix socket address (108 bytes with the
// terminating NUL on Linux), with room to spare.
const maxSocketPath = 100

// Supervisor runs containerd with a private configuration under Dir.
type Supervisor struct {
	// Dir holds containerd's config, root (images, snapshots), state and,
	// when the path is short enough, its socket.
	Dir string
	// Binary is the containerd executable (default: containerd on PATH).
	Binary string
	// StopTimeout is how long containerd gets to exit after SIGTERM
	// (default 10 s).
	StopTimeout time.Duration

	mu    sync.Mutex
	pid   int
	ready chan struct{} // closed when the current process answers
}

// Address is the gRPC socket clients connect to.
func (s *Supervisor) Address() string {
	p := filepath.Join(s.Dir, "containerd.sock")
	if len(p) <= maxSocketPath {
		return p
	}
	sum := sha256.Sum256([]byte(s.Dir))
	return filepath.Join("/run/skiff", hex.EncodeToString(sum[:8]), "containerd.sock")
}

// PID is the running containerd's process ID, 0 when none runs.
func (s *Supervisor) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pid
}

func (s *Supervisor) config() string {
	q := func(p string) string { return fmt.Sprintf("%q", p) }
	return strings.Join([]string{
		"# Written by skiff; rewritten at every start.",
		"version = 2",
		"root = " + q(filepath.Join(s.Dir, "root")),
		"state = " + q(filepath.Join(s.Dir, "state")),
		// skiff's node agent is the CRI; containerd's own is not needed.
		`disabled_plugins = ["io.containerd.grpc.v1.cri"]`,
		"[grpc]",
		"  address = " + q(s.Address()),
		"[ttrpc]",
		"  address = " + q(s.Address()+".ttrpc"),
		`[plugins."io.containerd.internal.v1.opt"]`,
		"  path = " + q(filepath.Join(s.Dir, "opt")),
		"",
	}, "\n")
}

// Run starts containerd and keeps it running until ctx ends, then stops
// it. It returns an error only when containerd cannot be started at all.
func (s *Supervisor) Run(ctx context.Context) error {
	logger := klog.FromContext(ctx).WithName("containerd")
	bin := s.Binary
	if bin == "" {
		bin = "containerd"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return fmt.Errorf("containerd is not installed (run hack/install-deps.sh as root, name a running one with --container-runtime-endpoint, or use --runtime sim): %w", err)
	}
	if os.Geteuid() != 0 {
		return errors.New("running containerd needs root (run skiff server as root, name a running containerd with --container-runtime-endpoint, or use --runtime sim)")
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.Address()), 0o700); err != nil {
		return err
	}
	configPath := filepath.Join(s.Dir, "config.toml")
	if err := os.WriteFile(configPath, []byte(s.config()), 0o600); err != nil {
		return err
	}
	stop := s.StopTimeout
	if stop <= 0 {
		stop = 10 * time.Second
	}
	backoff := time.Second
	for attempt := 0; ; attempt++ {
		started := time.Now()
		err := s.runOnce(ctx, path, configPath, stop)
		if ctx.Err() != nil {
			return nil
		}
		if attempt == 0 && err != nil && time.Since(started) < time.Second {
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				return err // could not even start it
			}
		}
		if time.Since(started) > time.Minute {
			backoff = time.Second
		}
		logger.Error(err, "containerd exited; restarting", "after", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// runOnce runs one containerd process until it exits or ctx ends.
func (s *Supervisor) runOnce(ctx context.Context, path, configPath string, stopTimeout time.Duration) error {
	_ = os.Remove(s.Address()) // a stale socket of a process that died
	logFile, err := os.OpenFile(filepath.Join(s.Dir, "containerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(path, "--config", configPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group, so a terminal's ^C reaches skiff only; and
	// gone with skiff should skiff be killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// The death signal follows the thread that forked, not the process:
	// skiff ends threads on purpose (those that entered a pod's network
	// namespace), so containerd is started and waited for on a thread
	// locked for its whole life.
	waitErr, done, started := make(chan error, 1), make(chan struct{}), make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		waitErr <- cmd.Wait()
		close(done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("starting containerd: %w", err)
	}
	ready := make(chan struct{})
	s.mu.Lock()
	s.pid, s.ready = cmd.Process.Pid, ready
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.pid, s.ready = 0, nil
		s.mu.Unlock()
	}()
	go func() {
		for {
			if conn, err := net.Dial("unix", s.Address()); err == nil {
				conn.Close()
				close(ready)
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	select {
	case <-done:
		err := <-waitErr
		if err == nil {
			err = errors.New("containerd exited")
		}
		return fmt.Errorf("%w (see %s)", err, logFile.Name())
	case <-ctx.Done():
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-done
		}
		return ctx.Err()
	}
}

// WaitReady waits until the running containerd accepts connections.
func (s *Supervisor) WaitReady(ctx context.Context) error {
	for {
		s.mu.Lock()
		ready := s.ready
		s.mu.Unlock()
		if ready != nil {
			select {
			case <-ready:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond): // a restart may replace it
			}
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
