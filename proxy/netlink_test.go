package proxy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/knftables"
)

func TestCompileRule(t *testing.T) {
	for _, text := range []string{
		"numgen random mod 3 == 0 meta l4proto tcp dnat to 10.244.0.5:8080",
		"numgen inc mod 2 == 0 meta l4proto udp dnat to 10.244.0.5:53",
		"jhash ip saddr mod 2 seed 0x1 == 0 meta l4proto sctp dnat to 10.244.0.5:3868",
		"meta l4proto tcp dnat to 10.244.0.5:80",
		"goto service-X", "jump mark-for-masquerade", "drop",
	} {
		if _, ok := compileRule(text); !ok {
			t.Errorf("%q is not compiled", text)
		}
	}
	// What netlinkWriter does not know goes through nft.
	for _, text := range []string{
		"numgen random mod 3 == 1 meta l4proto tcp dnat to 10.244.0.5:8080",
		"meta l4proto icmp dnat to 10.244.0.5:80",
		"meta l4proto tcp dnat to 10.244.0.5",
		"meta l4proto tcp dnat to [fd00::1]:80",
		"ip saddr @affinity-x goto endpoint-x",
		`iifname "skiff0" goto service-X`,
		"update @affinity-x { ip saddr }",
		"fib saddr type local jump mark-for-masquerade",
	} {
		if _, ok := compileRule(text); ok {
			t.Errorf("%q is compiled, want it left to nft", text)
		}
	}
}

// netlinkWriter changes the kernel's table exactly as nft does: two
// tables get the same changes, one through nft, one through netlink where
// it can, and list the same after each.
func TestNetlinkMatchesNft(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("nftables needs root")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft is not installed (hack/install-deps.sh)")
	}
	ctx := context.Background()
	byNft, byNetlink := fmt.Sprintf("skiff-test-nft-%d", os.Getpid()), fmt.Sprintf("skiff-test-nl-%d", os.Getpid())
	newApplier := func(table string) *applier {
		t.Cleanup(func() {
			if err := Cleanup(ctx, table); err != nil {
				t.Error(err)
			}
		})
		nft, err := knftables.New(knftables.IPv4Family, table)
		if err != nil {
			t.Fatal(err)
		}
		return &applier{nft: nft}
	}
	a, b := newApplier(byNft), newApplier(byNetlink)
	b.nl = newNetlinkWriter(byNetlink)
	t.Cleanup(b.nl.close)
	list := func(table string) string {
		out, err := exec.Command("nft", "list", "table", "ip", table).CombinedOutput()
		if err != nil {
			t.Fatalf("nft list table %s: %v: %s", table, err, out)
		}
		return strings.ReplaceAll(string(out), table, "TABLE")
	}

	svcs, slices := fixture()
	by := map[string]int{}
	for i, s := range slices {
		by[s.Labels[discoveryv1.LabelServiceName]] = i
	}
	set := func(svc string, ports map[string]int32, eps ...ep) {
		slices[by[svc]] = slice("default", svc, ports, eps...)
	}
	port80 := map[string]int32{"": 80}
	steps := []struct {
		name    string
		change  func()
		netlink bool
	}{
		{"the first, full sync", func() {}, false},
		{"endpoints of a random Service replaced", func() {
			set("web", map[string]int32{"http": 8080}, ready("10.244.0.5", "n1"), ready("10.244.0.16", "n1"))
		}, true},
		{"a round-robin Service gains an endpoint", func() {
			set("rr", port80, ready("10.244.0.9", "n1"), ready("10.244.1.9", "n2"), ready("10.244.2.9", "n3"))
		}, true},
		{"a source-hash Service gains an endpoint", func() {
			set("hash", port80, ready("10.244.0.10", "n1"), ready("10.244.1.10", "n2"), ready("10.244.2.10", "n3"))
		}, true},
		{"UDP and SCTP endpoints move", func() {
			s := slices[by["multi"]].DeepCopy()
			s.Endpoints[0].Addresses = []string{"10.244.0.18"}
			slices[by["multi"]] = s
		}, true},
		{"a NodePort Service loses its endpoints", func() { set("np", port80) }, true},
		{"and gets them back", func() { set("np", port80, ready("10.244.1.11", "n2"), ready("10.244.0.11", "n1")) }, true},
		{"a Service loses all endpoints", func() { set("web", map[string]int32{"http": 8080}) }, true},
		{"a new Service", func() {
			svcs = append(svcs, service("default", "new", "10.96.0.40", []corev1.ServicePort{tcp("", 80)}))
			slices = append(slices, slice("default", "new", port80, ready("10.244.0.40", "n1")))
		}, true},
		{"session affinity endpoints change (new affinity sets)", func() {
			set("sticky", port80, ready("10.244.0.8", "n1"), ready("10.244.2.8", "n3"))
		}, false},
		{"session affinity Service loses its endpoints (sets deleted)", func() { set("sticky", port80) }, true},
		{"an externalTrafficPolicy Local Service loses its local endpoint", func() {
			set("lb", map[string]int32{"": 8080}, ready("10.244.1.12", "n2"))
		}, false},
		{"a Service is deleted", func() { svcs = svcs[:len(svcs)-1] }, true},
	}
	for _, step := range steps {
		step.change()
		want := buildState(testNode, model(t, svcs, slices))
		if err := a.apply(ctx, want); err != nil {
			t.Fatalf("%s: through nft: %v", step.name, err)
		}
		var o *ops
		if b.last != nil {
			o = b.changes(buildState(testNode, model(t, svcs, slices)))
		}
		if err := b.apply(ctx, buildState(testNode, model(t, svcs, slices))); err != nil {
			t.Fatalf("%s: through netlink: %v", step.name, err)
		}
		if o != nil {
			// The same operations again: did netlink take them?
			var n, compiled int
			o.each(func(v verb, obj knftables.Object) {
				n++
				if _, ok := compileOp(v, obj); ok {
					compiled++
				}
			})
			if took := n > 0 && n == compiled; took != step.netlink {
				t.Errorf("%s: went through netlink: %v, want %v", step.name, took, step.netlink)
			}
		}
		if got, want := list(byNetlink), list(byNft); got != want {
			t.Fatalf("%s: the tables differ.\nthrough netlink:\n%s\nthrough nft:\n%s", step.name, got, want)
		}
	}
}
