package proxy

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"sigs.k8s.io/knftables"
)

// A UDP flow's conntrack entry goes when its endpoint is stale; others stay.
func TestClearConntrack(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("conntrack needs root")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft is not installed (hack/install-deps.sh)")
	}
	// A table whose rule makes the kernel track loopback UDP.
	table := fmt.Sprintf("skiff-ct-%d", os.Getpid())
	nft, err := knftables.New(knftables.IPv4Family, table)
	if err != nil {
		t.Fatal(err)
	}
	tx := nft.NewTransaction()
	tx.Add(&knftables.Table{})
	tx.Add(&knftables.Chain{Name: "out", Type: knftables.PtrTo(knftables.FilterType), Hook: knftables.PtrTo(knftables.OutputHook),
		Priority: knftables.PtrTo(knftables.FilterPriority)})
	tx.Add(&knftables.Rule{Chain: "out", Rule: "ct state new counter"})
	if err := nft.Run(context.Background(), tx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Cleanup(context.Background(), table) })

	servers := make([]*net.UDPConn, 2)
	for i := range servers {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		servers[i] = c
		client, err := net.DialUDP("udp4", nil, c.LocalAddr().(*net.UDPAddr))
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		if _, err := client.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, _, err := c.ReadFromUDP(make([]byte, 8)); err != nil {
			t.Fatal(err)
		}
	}
	stale := staleUDP{servers[0].LocalAddr().String(): true}
	n, err := clearConntrack(stale)
	if err != nil || n != 1 {
		t.Fatalf("cleared %d flows (%v), want the one of %s", n, err, servers[0].LocalAddr())
	}
	// The other flow is still tracked: clearing it finds one.
	if n, err := clearConntrack(staleUDP{servers[1].LocalAddr().String(): true}); err != nil || n != 1 {
		t.Fatalf("the other flow: cleared %d (%v), want 1", n, err)
	}
}
