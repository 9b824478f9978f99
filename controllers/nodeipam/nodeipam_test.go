package nodeipam

import (
	"net"
	"testing"
)

func TestAllocator(t *testing.T) {
	_, cidr, _ := net.ParseCIDR("10.244.0.0/22")
	a, err := NewAllocator(cidr, 24)
	if err != nil {
		t.Fatal(err)
	}
	a.Occupy("old", "10.244.1.0/24")
	want := map[string]string{"n0": "10.244.0.0/24", "n1": "10.244.2.0/24", "n2": "10.244.3.0/24"}
	for _, n := range []string{"n0", "n1", "n2"} {
		got, err := a.Allocate(n)
		if err != nil || got != want[n] {
			t.Fatalf("Allocate(%s) = %q, %v; want %q", n, got, err, want[n])
		}
	}
	if again, _ := a.Allocate("n1"); again != want["n1"] {
		t.Fatalf("a node's second allocation changed: %q", again)
	}
	if _, err := a.Allocate("n3"); err == nil {
		t.Fatal("allocated beyond the cluster CIDR")
	}
	a.Release("n1")
	if got, err := a.Allocate("n3"); err != nil || got != "10.244.2.0/24" {
		t.Fatalf("released subnet not reused: %q, %v", got, err)
	}
	if _, err := NewAllocator(cidr, 16); err == nil {
		t.Fatal("mask shorter than the cluster CIDR accepted")
	}
}
