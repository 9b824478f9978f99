package proxy

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

func TestCompileRule(t *testing.T) {
	for _, text := range []string{
		"numgen random mod 3 == 0 meta l4proto tcp dnat to 10.244.0.5:8080",
		"numgen inc mod 2 == 0 meta l4proto udp dnat to 10.244.0.5:53",
		"jhash ip saddr mod 2 seed 0x1 == 0 meta l4proto sctp dnat to 10.244.0.5:3868",
		"meta l4proto tcp dnat to 10.244.0.5:80",
		"goto service-X", "jump mark-for-masquerade", "drop",
		"ct state new jump endpoints-check",
		"ip daddr . meta l4proto . th dport vmap @service-ips",
		"ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports",
		"ip saddr . ip daddr @hairpin jump mark-for-masquerade",
		`ip daddr @cluster-ips iifname != "skiff0" jump mark-for-masquerade`,
		"meta mark set meta mark | 0x4000", "meta mark & 0x4000 == 0 return", "meta mark set meta mark ^ 0x4000",
		"masquerade fully-random", "ip daddr @cluster-ips reject",
		"ip saddr @affinity-x goto endpoint-x", `iifname "skiff0" goto service-X`,
		"update @affinity-x { ip saddr }", "fib saddr type local jump mark-for-masquerade",
		"ip saddr 10.0.0.0/8 return", "ip saddr 172.16.0.0/12 return", "ip saddr 0.0.0.0/0 return",
		"ip saddr 203.0.113.7/32 return", "ip daddr 192.168.1.10 jump firewall-x",
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
		"ip daddr { 192.168.1.10 } ip saddr != { 192.168.0.0/16, 10.0.0.0/8 } drop",
		"ip saddr 10.1.2.3/8 return",
		"ip daddr fd00::1 drop",
		`iifname "" goto x`,
		"meta mark set meta mark & 0x4000",
		"counter",
		"",
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
	ctx := context.Background()
	// One table through nft, one through netlink, and a third written
	// whole at every step: what the changes add up to must be what a full
	// sync writes.
	a, byNft := kernelApplier(t, "skiff-test-nft")
	b, byNetlink := kernelApplier(t, "skiff-test-nl")
	c, whole := kernelApplier(t, "skiff-test-full")
	b.nl = newNetlinkWriter(byNetlink)
	t.Cleanup(b.nl.close)
	list := func(table string) string { return normalize(strings.ReplaceAll(listTable(t, table), table, "TABLE")) }

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
		restart bool
		netlink bool
	}{
		{"the first, full sync", func() {}, true, true},
		{"endpoints of a random Service replaced", func() {
			set("web", map[string]int32{"http": 8080}, ready("10.244.0.5", "n1"), ready("10.244.0.16", "n1"))
		}, false, true},
		{"a round-robin Service gains an endpoint", func() {
			set("rr", port80, ready("10.244.0.9", "n1"), ready("10.244.1.9", "n2"), ready("10.244.2.9", "n3"))
		}, false, true},
		{"a source-hash Service gains an endpoint", func() {
			set("hash", port80, ready("10.244.0.10", "n1"), ready("10.244.1.10", "n2"), ready("10.244.2.10", "n3"))
		}, false, true},
		{"UDP and SCTP endpoints move", func() {
			s := slices[by["multi"]].DeepCopy()
			s.Endpoints[0].Addresses = []string{"10.244.0.18"}
			slices[by["multi"]] = s
		}, false, true},
		{"a NodePort Service loses its endpoints", func() { set("np", port80) }, false, true},
		{"and gets them back", func() { set("np", port80, ready("10.244.1.11", "n2"), ready("10.244.0.11", "n1")) }, false, true},
		{"a Service loses all endpoints", func() { set("web", map[string]int32{"http": 8080}) }, false, true},
		{"a new Service", func() {
			svcs = append(svcs, service("default", "new", "10.96.0.40", []corev1.ServicePort{tcp("", 80)}))
			slices = append(slices, slice("default", "new", port80, ready("10.244.0.40", "n1")))
		}, false, true},
		{"session affinity endpoints change (new affinity sets)", func() {
			set("sticky", port80, ready("10.244.0.8", "n1"), ready("10.244.2.8", "n3"))
		}, false, true},
		{"a restart: a full sync over the table", func() {}, true, true},
		{"an externalTrafficPolicy Local Service loses its source ranges", func() {
			lb := svcs[6].DeepCopy()
			lb.Spec.LoadBalancerSourceRanges = nil
			svcs[6] = lb
		}, false, true},
		{"and its local endpoint", func() { set("lb", map[string]int32{"": 8080}, ready("10.244.1.12", "n2")) }, false, true},
		{"a restart without source ranges", func() {}, true, true},
		{"session affinity Service loses its endpoints (sets deleted)", func() { set("sticky", port80) }, false, true},
		{"a Service is deleted", func() { svcs = svcs[:len(svcs)-1] }, false, true},
		// One pod behind two Services: its hairpin pair stays while
		// either has it.
		{"a second Service over the web pods", func() {
			svcs = append(svcs, service("default", "web2", "10.96.0.41", []corev1.ServicePort{tcp("", 80)}))
			set("web", map[string]int32{"http": 8080}, ready("10.244.0.5", "n1"))
			slices = append(slices, slice("default", "web2", port80, ready("10.244.0.5", "n1")))
		}, false, true},
		{"the first loses it", func() { set("web", map[string]int32{"http": 8080}) }, false, true},
		// More elements than one message carries.
		{"300 Services at once", func() {
			for i := range 300 {
				name := fmt.Sprintf("many-%d", i)
				svcs = append(svcs, service("default", name, fmt.Sprintf("10.96.%d.%d", 10+i/200, i%200+1), []corev1.ServicePort{tcp("", 80)}))
				slices = append(slices, slice("default", name, port80, ready(fmt.Sprintf("10.244.%d.%d", 10+i/200, i%200+1), "n1")))
			}
		}, false, true},
		{"and gone again", func() { svcs, slices = svcs[:len(svcs)-300], slices[:len(slices)-300] }, false, true},
		{"a start on an empty table", func() {
			for _, table := range []string{byNft, byNetlink, whole} {
				if err := Cleanup(ctx, table); err != nil {
					t.Fatal(err)
				}
			}
		}, true, true},
	}
	for _, step := range steps {
		step.change()
		if step.restart {
			a.last, b.last = nil, nil
		}
		if err := a.apply(ctx, buildState(testNode, model(t, svcs, slices))); err != nil {
			t.Fatalf("%s: through nft: %v", step.name, err)
		}
		before := b.nl.batches
		if err := b.apply(ctx, buildState(testNode, model(t, svcs, slices))); err != nil {
			t.Fatalf("%s: through netlink: %v", step.name, err)
		}
		if took := b.nl.batches > before; took != step.netlink {
			t.Errorf("%s: went through netlink: %v, want %v", step.name, took, step.netlink)
		}
		if got, want := list(byNetlink), list(byNft); got != want {
			t.Fatalf("%s: the tables differ.\nthrough netlink:\n%s\nthrough nft:\n%s", step.name, got, want)
		}
		c.last = nil
		if err := c.apply(ctx, buildState(testNode, model(t, svcs, slices))); err != nil {
			t.Fatalf("%s: whole: %v", step.name, err)
		}
		if got, want := list(byNft), list(whole); got != want {
			t.Fatalf("%s: the changes add up to another table than a full sync writes.\nchanged:\n%s\nwritten whole:\n%s", step.name, got, want)
		}
	}
}

// A batch the kernel refuses changes nothing, nft refuses it too, and the
// sync after it rewrites the whole table.
func TestNetlinkRefusedBatch(t *testing.T) {
	ctx := context.Background()
	a, table := kernelApplier(t, "skiff-test-refused")
	a.nl = newNetlinkWriter(table)
	t.Cleanup(a.nl.close)
	svcs, slices := fixture()
	if err := a.apply(ctx, buildState(testNode, model(t, svcs, slices))); err != nil {
		t.Fatal(err)
	}
	// Someone else removes an element the next change deletes.
	if out, err := exec.Command("nft", "delete", "element", "ip", table, "hairpin", "{ 10.244.0.6 . 10.244.0.6 }").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	slices[0] = slice("default", "web", map[string]int32{"http": 8080}, ready("10.244.0.5", "n1"), ready("10.244.0.16", "n1"))
	want := buildState(testNode, model(t, svcs, slices))
	if err := a.apply(ctx, want); err == nil {
		t.Fatal("a change that deletes a missing element was applied")
	}
	listing := func() string { return listTable(t, table) }
	// All or nothing: the new endpoint is not there, the old one is.
	if l := listing(); strings.Contains(l, "10.244.0.16") || !strings.Contains(l, "dnat to 10.244.0.6:8080") {
		t.Fatalf("the refused change was half applied:\n%s", l)
	}
	if a.last != nil {
		t.Fatal("the applier still trusts its idea of the table")
	}
	if err := a.apply(ctx, want); err != nil {
		t.Fatalf("the full sync after the failure: %v", err)
	}
	if l := listing(); !strings.Contains(l, "dnat to 10.244.0.16:8080") || strings.Contains(l, "10.244.0.6") {
		t.Fatalf("the full sync did not bring the table in line:\n%s", l)
	}
}

// normalize makes a table listing independent of the order in which
// chains, sets and elements were added: its blocks sorted, and each
// block's elements.
func normalize(listing string) string {
	var blocks []string
	var cur []string
	for _, line := range strings.Split(listing, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "\t") && !strings.HasPrefix(line, "\t\t") && strings.HasSuffix(trimmed, "{"):
			cur = []string{trimmed}
		case cur != nil && line == "\t}":
			blocks = append(blocks, normalizeBlock(cur))
			cur = nil
		case cur != nil:
			cur = append(cur, trimmed)
		}
	}
	slices.Sort(blocks)
	return strings.Join(blocks, "\n")
}

// normalizeBlock sorts the elements of a set or map block.
func normalizeBlock(lines []string) string {
	joined := strings.Join(lines, " ")
	start := strings.Index(joined, "elements = {")
	if start < 0 {
		return strings.Join(lines, "\n")
	}
	end := strings.Index(joined[start:], "}")
	elements := strings.Split(joined[start+len("elements = {"):start+end], ",")
	for i := range elements {
		elements[i] = strings.TrimSpace(elements[i])
	}
	slices.Sort(elements)
	return joined[:start] + "elements = {" + strings.Join(elements, ", ") + "}" + joined[start+end+1:]
}
