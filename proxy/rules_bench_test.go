package proxy

import (
	"context"
	"fmt"
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
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
	a := &applier{nft: knftables.NewFake(knftables.IPv4Family, "bench"), last: last, shared: last.sharedCounts()}
	ports[42].Endpoints[1].IP = "10.210.0.1"
	key := ports[42].Service.String()
	for b.Loop() {
		want := &state{frags: maps.Clone(last.frags)}
		want.frags[key] = serviceRules(testNode, ports[42:43])
		want.fixed = fixedRules(testNode)
		if tx := a.incremental(want); tx.NumOperations() == 0 {
			b.Fatal("no change")
		}
	}
}

// BenchmarkSync5000 is a whole sync in Go (listing, versions, fragments,
// fixed sets, transaction) at 5,000 Services after one EndpointSlice
// changed, with the nft run itself left to a fake.
func BenchmarkSync5000(b *testing.B) {
	si := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	ei := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for i := range 5000 {
		name := fmt.Sprintf("svc-%d", i)
		svc := service("bench", name, fmt.Sprintf("10.100.%d.%d", i/250, i%250+1), []corev1.ServicePort{tcp("http", 80)})
		_ = si.Add(svc)
		sl := slice("bench", name, map[string]int32{"http": 8080}, ready(fmt.Sprintf("10.200.%d.%d", i/250, i%250+1), "n1"),
			ready(fmt.Sprintf("10.201.%d.%d", i/250, i%250+1), "n1"), ready(fmt.Sprintf("10.202.%d.%d", i/250, i%250+1), "n1"))
		_ = ei.Add(sl)
	}
	p := newProxier(Config{Client: fake.NewClientset(), NodeName: "n1", Bridge: "skiff0", Table: "bench"}, nopNFT{knftables.NewFake(knftables.IPv4Family, "bench")})
	if err := ei.AddIndexers(cache.Indexers{byServiceIndex: sliceServiceIndex}); err != nil {
		b.Fatal(err)
	}
	p.services, p.slices, p.sliceIndex = corelisters.NewServiceLister(si), discoverylisters.NewEndpointSliceLister(ei), ei
	ctx := context.Background()
	if err := p.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	obj, _, _ := ei.GetByKey("bench/svc-42-abc")
	changed := obj.(*discoveryv1.EndpointSlice).DeepCopy()
	i := 0
	for b.Loop() {
		i++
		changed.Endpoints[0].Addresses = []string{fmt.Sprintf("10.210.0.%d", i%250+1)}
		_ = ei.Update(changed.DeepCopy())
		p.markDirty("bench/svc-42")
		if err := p.Sync(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// nopNFT takes every transaction and does nothing with it.
type nopNFT struct{ *knftables.Fake }

func (nopNFT) Run(context.Context, *knftables.Transaction) error { return nil }

// BenchmarkFull5000 is the Go work of a full sync at 5,000 Services: the
// rules, the transaction and its nft text.
func BenchmarkFull5000(b *testing.B) {
	ports := benchPorts(5000)
	a := &applier{nft: knftables.NewFake(knftables.IPv4Family, "bench")}
	for b.Loop() {
		tx := a.nft.NewTransaction()
		emit(tx, a.full(buildState(testNode, ports).flatten(), existing{}))
		if len(tx.String()) == 0 {
			b.Fatal("empty transaction")
		}
	}
}
