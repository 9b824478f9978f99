package allocator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/skiffhq/skiff/apiserver/etcd"
)

func newStore(t *testing.T, prefix string) *Store {
	t.Helper()
	ctx := context.Background()
	srv, err := etcd.Start(ctx, etcd.Config{DataDir: t.TempDir(), UnsafeNoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	c, err := clientv3.New(clientv3.Config{Endpoints: srv.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return NewStore(c, prefix)
}

func TestIPRange(t *testing.T) {
	ctx := context.Background()
	store := newStore(t, "/test/ips")
	_, cidr, _ := net.ParseCIDR("10.0.0.0/29") // 6 usable addresses
	r := NewIPRange(cidr, store)
	if r.Size() != 6 {
		t.Fatalf("size %d, want 6", r.Size())
	}
	if err := r.Allocate(ctx, net.ParseIP("10.0.0.0"), "a", false); !errors.Is(err, ErrNotInRange) {
		t.Errorf("network address: %v", err)
	}
	if err := r.Allocate(ctx, net.ParseIP("10.0.0.7"), "a", false); !errors.Is(err, ErrNotInRange) {
		t.Errorf("broadcast address: %v", err)
	}
	if err := r.Allocate(ctx, net.ParseIP("10.0.0.1"), "a", false); err != nil {
		t.Fatal(err)
	}
	if err := r.Allocate(ctx, net.ParseIP("10.0.0.1"), "b", false); !errors.Is(err, ErrAllocated) {
		t.Errorf("taken address: %v", err)
	}
	if err := r.Allocate(ctx, net.ParseIP("10.0.0.1"), "a", false); err != nil {
		t.Errorf("the holder claiming again: %v", err)
	}
	// Concurrent allocations of the rest are all distinct; then it is full.
	var wg sync.WaitGroup
	got := make(chan string, 10)
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ip, err := r.AllocateNext(ctx, fmt.Sprintf("o%d", i), false)
			if err != nil {
				t.Error(err)
				return
			}
			got <- ip.String()
		}(i)
	}
	wg.Wait()
	close(got)
	seen := map[string]bool{"10.0.0.1": true}
	for ip := range got {
		if seen[ip] {
			t.Errorf("%s handed out twice", ip)
		}
		seen[ip] = true
	}
	if _, err := r.AllocateNext(ctx, "late", false); !errors.Is(err, ErrFull) {
		t.Errorf("full range: %v", err)
	}
	// A dry run claims nothing; release frees for others, but only by the holder.
	if err := r.Release(ctx, "10.0.0.1", "b"); err != nil {
		t.Fatal(err)
	}
	if err := r.Allocate(ctx, net.ParseIP("10.0.0.1"), "b", true); !errors.Is(err, ErrAllocated) {
		t.Errorf("release by a non-holder freed the address: %v", err)
	}
	if err := r.Release(ctx, "10.0.0.1", "a"); err != nil {
		t.Fatal(err)
	}
	if err := r.Allocate(ctx, net.ParseIP("10.0.0.1"), "b", true); err != nil {
		t.Errorf("dry run after release: %v", err)
	}
	if _, held, _ := store.Holder(ctx, "10.0.0.1"); held {
		t.Error("a dry run allocated")
	}
}

func TestRepair(t *testing.T) {
	ctx := context.Background()
	store := newStore(t, "/test/ports")
	r := NewPortRange(30000, 100, store)
	for port, owner := range map[int]string{30001: "ns/kept", 30002: "ns/gone"} {
		if err := r.Allocate(ctx, port, owner, false); err != nil {
			t.Fatal(err)
		}
	}
	_, rev, err := store.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	holdings := func(context.Context) (map[string]string, int64, error) {
		return map[string]string{"30001": "ns/kept", "30003": "ns/unrecorded"}, rev, nil
	}
	if err := Repair(ctx, store, holdings); err != nil {
		t.Fatal(err)
	}
	all, _, _ := store.List(ctx)
	got := map[string]string{}
	for _, a := range all {
		got[a.Value] = a.Owner
	}
	want := map[string]string{"30001": "ns/kept", "30003": "ns/unrecorded"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after repair %v, want %v", got, want)
	}
}
