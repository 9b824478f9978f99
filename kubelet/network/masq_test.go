package network

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTableName(t *testing.T) {
	for bridge, want := range map[string]string{"": "skiff", DefaultBridge: "skiff", "ske42": "skiff-ske42"} {
		if got := TableName(bridge); got != want {
			t.Errorf("TableName(%q) = %q, want %q", bridge, got, want)
		}
	}
}

func nftRules(t *testing.T, table string) string {
	t.Helper()
	out, err := exec.Command("nft", "list", "table", "ip", table).CombinedOutput()
	if err != nil {
		return ""
	}
	return string(out)
}

// A pod's connection to an address outside its subnet leaves with the
// node's address; the rule follows the podCIDR and goes with the table.
func TestMasquerade(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft is not installed (hack/install-deps.sh)")
	}
	id := os.Getpid() % 100000
	bridge := fmt.Sprintf("skm%d", id)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.Cleanup(func() {
		if err := RemoveNode(context.Background(), bridge); err != nil {
			t.Error(err)
		}
		if rules := nftRules(t, TableName(bridge)); rules != "" {
			t.Errorf("table left after RemoveNode:\n%s", rules)
		}
	})

	// An earlier podCIDR's rule is replaced, not kept beside the new one.
	if err := SyncMasquerade(ctx, bridge, "10.251.99.0/24"); err != nil {
		t.Fatal(err)
	}
	if err := SyncMasquerade(ctx, bridge, "10.251.8.0/24"); err != nil {
		t.Fatal(err)
	}
	rules := nftRules(t, TableName(bridge))
	if !strings.Contains(rules, "ip saddr 10.251.8.0/24 ip daddr != 10.251.8.0/24 ip daddr != 224.0.0.0/4 masquerade") ||
		strings.Contains(rules, "10.251.99.0") || !strings.Contains(rules, "hook postrouting") {
		t.Fatalf("rules:\n%s", rules)
	}

	c, err := NewCNI("10.251.8.0/24", bridge, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	podNS := filepath.Join(t.TempDir(), "pod")
	outsideNS := filepath.Join(t.TempDir(), "outside")
	for _, p := range []string{podNS, outsideNS} {
		if err := NewNetNS(p); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = RemoveNetNS(p) })
	}
	pod := Pod{ID: "uid-masq", NetNS: podNS, Namespace: "ns", Name: "p"}
	if _, err := c.Setup(ctx, pod); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Teardown(context.Background(), pod) })

	// "Outside": a namespace on a veth with 198.51.100.2, which has no route
	// back to the pod subnet: only a masqueraded connection is answered.
	host, peer := fmt.Sprintf("skmo%d", id), fmt.Sprintf("skmi%d", id)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	run("ip", "link", "add", host, "type", "veth", "peer", "name", peer)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", host).Run() })
	run("ip", "link", "set", peer, "netns", outsideNS)
	run("ip", "addr", "add", "198.51.100.1/30", "dev", host)
	run("ip", "link", "set", host, "up")
	run("nsenter", "--net="+outsideNS, "ip", "addr", "add", "198.51.100.2/30", "dev", peer)
	run("nsenter", "--net="+outsideNS, "ip", "link", "set", peer, "up")

	l := listenIn(t, outsideNS)
	defer l.Close()
	remote := make(chan string, 1)
	go func() {
		if conn, err := l.Accept(); err == nil {
			remote <- conn.RemoteAddr().(*net.TCPAddr).IP.String()
			conn.Close()
		}
	}()
	conn, err := DialInNetNS(ctx, podNS, "tcp", "198.51.100.2:8080")
	if err != nil {
		t.Fatalf("the pod cannot reach an address outside its subnet: %v", err)
	}
	conn.Close()
	select {
	case ip := <-remote:
		if ip != "198.51.100.1" {
			t.Fatalf("the outside saw the connection from %s, want the node's 198.51.100.1", ip)
		}
	case <-ctx.Done():
		t.Fatal("no connection arrived")
	}
}
