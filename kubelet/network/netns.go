package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// NewNetNS creates a network namespace and pins it by bind-mounting it on
// path.
func NewNetNS(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return fmt.Errorf("creating the netns file: %w", err)
	}
	f.Close()
	errCh := make(chan error, 1)
	go func() {
		// The thread enters a new namespace and is never unlocked: when
		// this goroutine ends, the runtime discards the thread rather than
		// reuse it in the wrong namespace.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errCh <- fmt.Errorf("unshare: %w", err)
			return
		}
		src := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
			errCh <- fmt.Errorf("bind-mounting the netns: %w", err)
			return
		}
		errCh <- nil
	}()
	if err := <-errCh; err != nil {
		_ = os.Remove(path)
		return err
	}
	return nil
}

// RemoveNetNS unpins and deletes a namespace made by NewNetNS; a missing
// one is not an error.
func RemoveNetNS(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmounting netns %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// DialInNetNS connects to addr ("127.0.0.1:8080") from inside the network
// namespace pinned at path, as the kubelet's port-forward does: the
// socket is created in that namespace and keeps living there.
func DialInNetNS(ctx context.Context, path, network, addr string) (net.Conn, error) {
	target, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening netns %s: %w", path, err)
	}
	defer target.Close()
	type result struct {
		conn net.Conn
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer self.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("entering netns %s: %w", path, err)}
			return
		}
		// The socket is made here, on this thread, in the pod's namespace.
		var d net.Dialer
		conn, err := d.DialContext(ctx, network, addr)
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: it dies with this goroutine
			// instead of running other goroutines in the pod's netns.
			ch <- result{conn, err}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{conn, err}
	}()
	res := <-ch
	return res.conn, res.err
}

// RemoveBridge deletes the pods' bridge; a missing one is not an error.
func RemoveBridge(name string) error {
	if _, err := net.InterfaceByName(name); err != nil {
		return nil
	}
	return ip(context.Background(), "link", "del", name)
}
