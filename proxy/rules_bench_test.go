package proxy

import (
	"fmt"
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/knftables"
)

// benchPorts are n Services of one port and three endpoints each.
func benchPorts(n int) []servicePort {
	ports := make([]servicePort, 0, n)
	for i := range n {
		sp := servicePort{Service: types.NamespacedName{Namespace: "bench", Name: fmt.Sprintf("svc-%d", i)}, Name: "http",
			Protocol: corev1.ProtocolTCP, Port: 80, ClusterIP: fmt.Sprintf("10.100.%d.%d", i/250, i%250+1), LoadBalance: LoadBalanceRandom}
		for j := range 3 {
			sp.Endpoints = append(sp.Endpoints, endpoint{IP: fmt.Sprintf("10.%d.%d.%d", 200+j, i/250, i%250+1), Port: 8080,
				NodeName: "n1", Ready: true, Serving: true})
		}
		ports = append(ports, sp)
	}
	return ports
}

// BenchmarkBuildRules5000 is the rule generation of a sync at 5,000 Services.
func BenchmarkBuildRules5000(b *testing.B) {
	ports := benchPorts(5000)
	for b.Loop() {
		buildState(testNode, ports)
	}
}

// BenchmarkIncremental5000 is a sync's work in Go after one endpoint
// changed at 5,000 Services: that Service's fragment, the fixed part and
// the transaction of the change.
func BenchmarkIncremental5000(b *testing.B) {
	ports := benchPorts(5000)
	last := buildState(testNode, ports)
	a := &applier{nft: knftables.NewFake(knftables.IPv4Family, "bench"), last: last}
	ports[42].Endpoints[1].IP = "10.210.0.1"
	key := ports[42].Service.String()
	for b.Loop() {
		want := &state{frags: maps.Clone(last.frags)}
		want.frags[key] = serviceRules(testNode, ports[42:43])
		want.fixed = fixedRules(testNode, want.frags)
		if tx := a.incremental(want); tx.NumOperations() == 0 {
			b.Fatal("no change")
		}
	}
}
