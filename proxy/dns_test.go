package proxy

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/skiffhq/skiff/test/testserver"
)

func testResolver(t *testing.T, upstream []string) *resolver {
	t.Helper()
	svcs, slices := fixture()
	stateful := service("default", "db", "None", []corev1.ServicePort{tcp("pg", 5432)})
	svcs = append(svcs, stateful)
	dbSlice := slice("default", "db", map[string]int32{"pg": 5432}, ready("10.244.0.30", "n1"), ready("10.244.0.31", "n1"), ep{ip: "10.244.0.32", node: "n1"})
	dbSlice.Endpoints[0].Hostname, dbSlice.Endpoints[1].Hostname = new("db-0"), new("db-1")
	slices = append(slices, dbSlice)
	si := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	ei := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, s := range svcs {
		if err := si.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range slices {
		s.Name = s.Name + "-" + string(rune('a'+i))
		if err := ei.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	return newResolver("cluster.local", corelisters.NewServiceLister(si), discoverylisters.NewEndpointSliceLister(ei), upstream, klog.Background())
}

func query(t *testing.T, r *resolver, name string, qtype uint16) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	resp := r.answer(q, "udp")
	if resp == nil {
		t.Fatalf("%s: no answer", name)
	}
	return resp
}

// records renders the answer section without TTLs and headers' noise.
func records(m *dns.Msg) []string {
	var out []string
	for _, rr := range append(append([]dns.RR{}, m.Answer...), m.Extra...) {
		f := strings.Fields(rr.String())
		out = append(out, f[0]+" "+f[3]+" "+strings.Join(f[4:], " "))
	}
	return out
}

func TestResolverAnswers(t *testing.T) {
	r := testResolver(t, nil)
	for _, tc := range []struct {
		name  string
		qtype uint16
		rcode int
		want  []string
	}{
		{"web.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"web.default.svc.cluster.local. A 10.96.0.20"}},
		{"WEB.Default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"web.default.svc.cluster.local. A 10.96.0.20"}},
		// IPv4 only: the name exists, with no AAAA.
		{"web.default.svc.cluster.local.", dns.TypeAAAA, dns.RcodeSuccess, nil},
		{"_http._tcp.web.default.svc.cluster.local.", dns.TypeSRV, dns.RcodeSuccess,
			[]string{"_http._tcp.web.default.svc.cluster.local. SRV 0 100 80 web.default.svc.cluster.local."}},
		{"_nope._tcp.web.default.svc.cluster.local.", dns.TypeSRV, dns.RcodeNameError, nil},
		// Headless: the ready endpoints; each by its hostname.
		{"db.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess,
			[]string{"db.default.svc.cluster.local. A 10.244.0.30", "db.default.svc.cluster.local. A 10.244.0.31"}},
		{"db-1.db.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"db-1.db.default.svc.cluster.local. A 10.244.0.31"}},
		{"db-9.db.default.svc.cluster.local.", dns.TypeA, dns.RcodeNameError, nil},
		{"_pg._tcp.db.default.svc.cluster.local.", dns.TypeSRV, dns.RcodeSuccess, []string{
			"_pg._tcp.db.default.svc.cluster.local. SRV 0 50 5432 db-0.db.default.svc.cluster.local.",
			"_pg._tcp.db.default.svc.cluster.local. SRV 0 50 5432 db-1.db.default.svc.cluster.local.",
			"db-0.db.default.svc.cluster.local. A 10.244.0.30",
			"db-1.db.default.svc.cluster.local. A 10.244.0.31"}},
		{"10-244-0-5.default.pod.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"10-244-0-5.default.pod.cluster.local. A 10.244.0.5"}},
		{"nothere.default.svc.cluster.local.", dns.TypeA, dns.RcodeNameError, nil},
		{"web.other.svc.cluster.local.", dns.TypeA, dns.RcodeNameError, nil},
		{"default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, nil},
		{"svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, nil},
		{"web.default.svc.cluster.local.default.svc.cluster.local.", dns.TypeA, dns.RcodeNameError, nil},
		{"something.cluster.local.", dns.TypeA, dns.RcodeNameError, nil},
		{"dns-version.cluster.local.", dns.TypeTXT, dns.RcodeSuccess, []string{`dns-version.cluster.local. TXT "1.1.0"`}},
		// Reverse: a cluster IP names its Service; a headless endpoint, its hostname.
		{"20.0.96.10.in-addr.arpa.", dns.TypePTR, dns.RcodeSuccess, []string{"20.0.96.10.in-addr.arpa. PTR web.default.svc.cluster.local."}},
		{"31.0.244.10.in-addr.arpa.", dns.TypePTR, dns.RcodeSuccess, []string{"31.0.244.10.in-addr.arpa. PTR db-1.db.default.svc.cluster.local."}},
	} {
		resp := query(t, r, tc.name, tc.qtype)
		if resp.Rcode != tc.rcode || !slices.Equal(records(resp), tc.want) {
			t.Errorf("%s %s: %s %v, want %s %v", tc.name, dns.TypeToString[tc.qtype], dns.RcodeToString[resp.Rcode], records(resp),
				dns.RcodeToString[tc.rcode], tc.want)
		}
		if !resp.Authoritative {
			t.Errorf("%s: not authoritative", tc.name)
		}
		if len(resp.Answer) == 0 && (len(resp.Ns) != 1 || resp.Ns[0].Header().Rrtype != dns.TypeSOA) {
			t.Errorf("%s: a negative answer without the zone's SOA: %v", tc.name, resp.Ns)
		}
	}
}

// Names outside the cluster go to the node's resolvers, and an
// ExternalName's alias is followed there.
func TestResolverForwards(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		if req.Question[0].Name == "example.com." && req.Question[0].Qtype == dns.TypeA {
			m.Answer = []dns.RR{a("example.com.", "192.0.2.7")}
		} else {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = up.ActivateAndServe() }()
	t.Cleanup(func() { _ = up.Shutdown() })
	r := testResolver(t, []string{pc.LocalAddr().String()})

	if resp := query(t, r, "example.com.", dns.TypeA); resp.Rcode != dns.RcodeSuccess || !slices.Equal(records(resp), []string{"example.com. A 192.0.2.7"}) {
		t.Errorf("forwarded: %s %v", dns.RcodeToString[resp.Rcode], records(resp))
	}
	if resp := query(t, r, "nowhere.example.", dns.TypeA); resp.Rcode != dns.RcodeNameError {
		t.Errorf("forwarded unknown name: %s", dns.RcodeToString[resp.Rcode])
	}
	resp := query(t, r, "ext.default.svc.cluster.local.", dns.TypeA)
	if want := []string{"ext.default.svc.cluster.local. CNAME example.com.", "example.com. A 192.0.2.7"}; !slices.Equal(records(resp), want) {
		t.Errorf("ExternalName: %v, want %v", records(resp), want)
	}
	// A reverse lookup of another address goes to the node's resolvers.
	if resp := query(t, r, "7.2.0.192.in-addr.arpa.", dns.TypePTR); resp.Rcode != dns.RcodeNameError {
		t.Errorf("forwarded reverse lookup: %s", dns.RcodeToString[resp.Rcode])
	}
	// Without upstream resolvers: SERVFAIL, not a lie.
	if resp := query(t, testResolver(t, nil), "example.com.", dns.TypeA); resp.Rcode != dns.RcodeServerFailure {
		t.Errorf("no upstream: %s", dns.RcodeToString[resp.Rcode])
	}
}

// A headless Service of many endpoints: UDP answers fit 512 bytes with
// the truncated bit, TCP answers hold every address.
func TestResolverTruncatesUDP(t *testing.T) {
	r := testResolver(t, nil)
	big := service("default", "big", "None", []corev1.ServicePort{tcp("", 80)})
	var eps []ep
	for i := range 100 {
		eps = append(eps, ready(fmt.Sprintf("10.244.9.%d", i+1), "n1"))
	}
	si := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	ei := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	if err := si.Add(big); err != nil {
		t.Fatal(err)
	}
	if err := ei.Add(slice("default", "big", map[string]int32{"": 80}, eps...)); err != nil {
		t.Fatal(err)
	}
	r.services, r.slices = corelisters.NewServiceLister(si), discoverylisters.NewEndpointSliceLister(ei)
	for _, network := range []string{"udp", "tcp"} {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		servers := &dnsListeners{addr: "test", udp: &dns.Server{PacketConn: pc, Handler: r}, tcp: &dns.Server{Listener: l, Handler: r}}
		ctx, cancel := context.WithCancel(context.Background())
		go func() { _ = servers.serve(ctx) }()
		addr := pc.LocalAddr().String()
		if network == "tcp" {
			addr = l.Addr().String()
		}
		q := new(dns.Msg)
		q.SetQuestion("big.default.svc.cluster.local.", dns.TypeA)
		var resp *dns.Msg
		testserver.Eventually(t, 5*time.Second, func() error {
			var err error
			resp, _, err = (&dns.Client{Net: network, Timeout: 2 * time.Second}).Exchange(q, addr)
			return err
		})
		cancel()
		resp.Compress = true // as it was sent
		switch {
		case network == "udp" && (!resp.Truncated || resp.Len() > dns.MinMsgSize || len(resp.Answer) >= 100):
			t.Errorf("UDP: truncated %v, %d bytes, %d answers; want the bit set and at most 512 bytes", resp.Truncated, resp.Len(), len(resp.Answer))
		case network == "tcp" && (resp.Truncated || len(resp.Answer) != 100):
			t.Errorf("TCP: truncated %v, %d answers; want all 100", resp.Truncated, len(resp.Answer))
		}
	}
}
