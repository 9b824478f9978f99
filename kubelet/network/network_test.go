package network

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("pod networks need root")
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		t.Skip("the CNI plugins are not installed (hack/install-deps.sh)")
	}
}

// listenIn opens a TCP listener inside the namespace at path.
func listenIn(t *testing.T, path string) net.Listener {
	t.Helper()
	type result struct {
		l   net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread is discarded
		f, err := os.Open(path)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{err: err}
			return
		}
		l, err := net.Listen("tcp", "0.0.0.0:8080")
		ch <- result{l, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.l
}

func TestPodNetworkReachableFromHost(t *testing.T) {
	needRoot(t)
	bridge := fmt.Sprintf("skt%d", os.Getpid()%100000)
	t.Cleanup(func() { _ = RemoveNode(context.Background(), bridge) })
	c, err := NewCNI("10.251.7.0/24", bridge, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	nsPath := filepath.Join(t.TempDir(), "netns")
	if err := NewNetNS(nsPath); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := RemoveNetNS(nsPath); err != nil {
			t.Error(err)
		}
	})
	pod := Pod{ID: "uid-1", NetNS: nsPath, Namespace: "ns", Name: "p"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ips, err := c.Setup(ctx, pod)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Teardown(context.Background(), pod); err != nil {
			t.Error(err)
		}
	})
	if len(ips) != 1 || !strings.HasPrefix(ips[0], "10.251.7.") || ips[0] == "10.251.7.1" {
		t.Fatalf("pod IPs %v, want one of 10.251.7.0/24 other than the gateway", ips)
	}
	l := listenIn(t, nsPath)
	defer l.Close()
	go func() {
		if conn, err := l.Accept(); err == nil {
			_, _ = conn.Write([]byte("hello"))
			conn.Close()
		}
	}()
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(ips[0], "8080"), 5*time.Second)
	if err != nil {
		t.Fatalf("host cannot reach the pod: %v", err)
	}
	buf := make([]byte, 5)
	_, err = conn.Read(buf)
	conn.Close()
	if err != nil || string(buf) != "hello" {
		t.Fatalf("read %q, %v", buf, err)
	}
	// Setting up again (after a restart) keeps working; tearing down twice too.
	if err := c.Teardown(ctx, pod); err != nil {
		t.Fatal(err)
	}
}
