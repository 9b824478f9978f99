package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/klog/v2"
)

// lockDataDir takes an exclusive lock on the data directory for the life
// of the process, so that two servers never share etcd's data or socket.
// A server that is still shutting down is waited for, up to timeout.
func lockDataDir(ctx context.Context, dir string, timeout time.Duration) (*os.File, error) {
	path := filepath.Join(dir, "skiff.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	deadline := time.Now().Add(timeout)
	logged := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		holder := readPID(path)
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("--data-dir %s is in use by another skiff server (pid %s)", dir, holder)
		}
		if !logged {
			klog.FromContext(ctx).Info("Waiting for the other skiff server using this data dir to exit", "dataDir", dir, "pid", holder)
			logged = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return f, nil
}

func readPID(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(strings.TrimSpace(string(b))) == 0 {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}
