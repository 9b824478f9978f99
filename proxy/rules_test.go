package proxy

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/knftables"
)

// needNft skips a test that needs the kernel's nftables and nft.
func needNft(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("nftables needs root")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft is not installed (hack/install-deps.sh)")
	}
}

// kernelApplier is an applier (through nft) of a table of its own in the
// kernel, named after prefix, which must be gone when the test ends.
func kernelApplier(t *testing.T, prefix string) (*applier, string) {
	t.Helper()
	needNft(t)
	table := fmt.Sprintf("%s-%d", prefix, os.Getpid())
	t.Cleanup(func() {
		if err := Cleanup(context.Background(), table); err != nil {
			t.Error(err)
		}
		if out, err := exec.Command("nft", "list", "table", "ip", table).CombinedOutput(); err == nil {
			t.Errorf("table left after Cleanup:\n%s", out)
		}
	})
	nft, err := knftables.New(knftables.IPv4Family, table)
	if err != nil {
		t.Fatal(err)
	}
	return &applier{nft: nft}, table
}

// listTable is the kernel's listing of table.
func listTable(t *testing.T, table string) string {
	t.Helper()
	out, err := exec.Command("nft", "list", "table", "ip", table).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list table %s: %v: %s", table, err, out)
	}
	return string(out)
}

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./proxy -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", name, diff)
	}
}

type svcOpt func(*corev1.Service)

func service(ns, name, clusterIP string, ports []corev1.ServicePort, opts ...svcOpt) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: clusterIP, ClusterIPs: []string{clusterIP}, Ports: ports}}
	for _, o := range opts {
		o(s)
	}
	return s
}

func tcp(name string, port int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(port)}
}

type ep struct {
	ip, node                    string
	ready, serving, terminating bool
}

func slice(ns, svc string, ports map[string]int32, eps ...ep) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: svc + "-abc", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4}
	for name, port := range ports {
		s.Ports = append(s.Ports, discoveryv1.EndpointPort{Name: new(name), Port: new(port), Protocol: new(corev1.ProtocolTCP)})
	}
	for _, e := range eps {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{e.ip}, NodeName: new(e.node),
			Conditions: discoveryv1.EndpointConditions{Ready: new(e.ready), Serving: new(e.serving), Terminating: new(e.terminating)}})
	}
	return s
}

func ready(ip, node string) ep { return ep{ip: ip, node: node, ready: true, serving: true} }

// model builds the ports of services with their slices, failing on
// problems.
func model(t *testing.T, svcs []*corev1.Service, slices []*discoveryv1.EndpointSlice) []servicePort {
	t.Helper()
	var out []servicePort
	for _, s := range svcs {
		var mine []*discoveryv1.EndpointSlice
		for _, sl := range slices {
			if sl.Namespace == s.Namespace && sl.Labels[discoveryv1.LabelServiceName] == s.Name {
				mine = append(mine, sl)
			}
		}
		ports, problems := servicePorts(s, mine)
		if len(problems) > 0 {
			t.Fatalf("%s: %v", s.Name, problems)
		}
		out = append(out, ports...)
	}
	return out
}

var testNode = node{Name: "n1", Bridge: "skiff0", NodePortIPs: []string{"192.168.1.10"}}

// fixture is a cluster with one Service of each kind the rules treat
// differently.
func fixture() ([]*corev1.Service, []*discoveryv1.EndpointSlice) {
	local := corev1.ServiceInternalTrafficPolicyLocal
	svcs := []*corev1.Service{
		service("default", "web", "10.96.0.20", []corev1.ServicePort{tcp("http", 80)}),
		service("default", "empty", "10.96.0.21", []corev1.ServicePort{tcp("", 80)}),
		service("default", "sticky", "10.96.0.22", []corev1.ServicePort{tcp("", 80)}, func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: new(int32(60))}}
		}),
		service("default", "rr", "10.96.0.23", []corev1.ServicePort{tcp("", 80)}, func(s *corev1.Service) {
			s.Annotations = map[string]string{LoadBalancerAnnotation: LoadBalanceRoundRobin}
		}),
		service("default", "hash", "10.96.0.24", []corev1.ServicePort{tcp("", 80)}, func(s *corev1.Service) {
			s.Annotations = map[string]string{LoadBalancerAnnotation: LoadBalanceSourceHash}
		}),
		service("default", "np", "10.96.0.25", []corev1.ServicePort{tcp("", 80)}, func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = 30080
		}),
		service("default", "lb", "10.96.0.26", []corev1.ServicePort{tcp("", 8080)}, func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.Ports[0].NodePort = 30081
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.168.1.10"}}
			s.Spec.LoadBalancerSourceRanges = []string{"192.168.0.0/16", " 10.0.0.0/8", "172.16.0.0/12", "203.0.113.7/32", "0.0.0.0/0"}
		}),
		service("default", "itp", "10.96.0.27", []corev1.ServicePort{tcp("", 80)}, func(s *corev1.Service) {
			s.Spec.InternalTrafficPolicy = &local
		}),
		service("default", "draining", "10.96.0.28", []corev1.ServicePort{tcp("", 80)}),
		service("default", "multi", "10.96.0.29", []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
			{Name: "assoc", Port: 3868, Protocol: corev1.ProtocolSCTP}}),
		service("default", "headless", "None", []corev1.ServicePort{tcp("", 80)}),
		service("default", "ext", "", nil, func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeExternalName
			s.Spec.ExternalName = "example.com"
		}),
	}
	slices := []*discoveryv1.EndpointSlice{
		slice("default", "web", map[string]int32{"http": 8080}, ready("10.244.0.5", "n1"), ready("10.244.1.5", "n2"), ready("10.244.0.6", "n1"),
			ep{ip: "10.244.0.7", node: "n1"}), // not ready: left out
		slice("default", "sticky", map[string]int32{"": 80}, ready("10.244.0.8", "n1"), ready("10.244.1.8", "n2")),
		slice("default", "rr", map[string]int32{"": 80}, ready("10.244.0.9", "n1"), ready("10.244.1.9", "n2")),
		slice("default", "hash", map[string]int32{"": 80}, ready("10.244.0.10", "n1"), ready("10.244.1.10", "n2")),
		slice("default", "np", map[string]int32{"": 80}, ready("10.244.1.11", "n2")),
		slice("default", "lb", map[string]int32{"": 8080}, ready("10.244.0.12", "n1"), ready("10.244.1.12", "n2")),
		slice("default", "itp", map[string]int32{"": 80}, ready("10.244.1.13", "n2")),
		{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "multi-abc", Labels: map[string]string{discoveryv1.LabelServiceName: "multi"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports: []discoveryv1.EndpointPort{{Name: new("dns"), Port: new(int32(5353)), Protocol: new(corev1.ProtocolUDP)},
				{Name: new("assoc"), Port: new(int32(3868)), Protocol: new(corev1.ProtocolSCTP)}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.244.0.17"}, NodeName: new("n1"), Conditions: discoveryv1.EndpointConditions{Ready: new(true)}}}},
		// Only terminating endpoints that still serve: they are used.
		slice("default", "draining", map[string]int32{"": 80}, ep{ip: "10.244.0.14", node: "n1", serving: true, terminating: true},
			ep{ip: "10.244.0.15", node: "n1", terminating: true}),
	}
	return svcs, slices
}

func TestRulesGolden(t *testing.T) {
	svcs, slices := fixture()
	fake := knftables.NewFake(knftables.IPv4Family, "skiff-services")
	a := &applier{nft: fake}
	want := buildState(testNode, model(t, svcs, slices))
	tx := fake.NewTransaction()
	emit(tx, a.full(want.flatten(), existing{}))
	golden(t, "full.nft", tx.String())
	if err := fake.Run(context.Background(), tx); err != nil {
		t.Fatalf("the fake nft refused the full transaction: %v", err)
	}
	a.last, a.shared = want, want.sharedCounts()

	// Endpoints change: only their chains and map entries are touched.
	slices[0] = slice("default", "web", map[string]int32{"http": 8080}, ready("10.244.0.5", "n1"), ready("10.244.0.16", "n1"))
	slices[1] = slice("default", "sticky", map[string]int32{"": 80})
	want2 := buildState(testNode, model(t, svcs, slices))
	tx2 := a.incremental(want2)
	golden(t, "incremental.nft", tx2.String())
	if err := fake.Run(context.Background(), tx2); err != nil {
		t.Fatalf("the fake nft refused the incremental transaction: %v", err)
	}
	// Nothing changed: nothing to do.
	a.last, a.shared = want2, want2.sharedCounts()
	if tx3 := a.incremental(buildState(testNode, model(t, svcs, slices))); tx3.NumOperations() != 0 {
		t.Errorf("an unchanged ruleset gives operations:\n%s", tx3)
	}
	dump := fake.Dump()
	for _, gone := range []string{"10.244.1.5", "10.244.0.6", "10.244.0.8", "affinity-"} {
		if strings.Contains(dump, gone) {
			t.Errorf("%s is still in the table after the change:\n%s", gone, dump)
		}
	}
}

func TestServicePortsProblems(t *testing.T) {
	s := service("default", "bad", "10.96.0.30", []corev1.ServicePort{tcp("", 80), {Port: 81, Protocol: "ICMP"}}, func(s *corev1.Service) {
		s.Annotations = map[string]string{LoadBalancerAnnotation: "least-connections"}
	})
	named := corev1.ServicePort{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("web")}
	s.Spec.Ports = append(s.Spec.Ports, named)
	// The pods have no port named web: their slice lists only another.
	ports, problems := servicePorts(s, []*discoveryv1.EndpointSlice{slice("default", "bad", map[string]int32{"metrics": 9090}, ready("10.244.0.70", "n1"))})
	if len(ports) != 2 || ports[0].LoadBalance != LoadBalanceRandom || len(ports[1].Endpoints) != 0 {
		t.Errorf("ports %+v, want the TCP ones with random balancing, the named one without endpoints", ports)
	}
	var reasons []string
	for _, p := range problems {
		reasons = append(reasons, p.Reason+": "+p.Message)
	}
	got := strings.Join(reasons, "\n")
	if !strings.Contains(got, "UnsupportedLoadBalancer") || !strings.Contains(got, "needs IPVS") ||
		!strings.Contains(got, `UnsupportedProtocol: port 81: protocol "ICMP" is not supported`) ||
		!strings.Contains(got, `UnresolvedTargetPort: port 8080: no selected pod has a container port named "web"`) {
		t.Errorf("problems:\n%s", got)
	}
}

// The kernel takes what the fake took: the full table, a change, and the
// same again after a restart (a full sync over an existing table).
func TestRulesApplyToKernel(t *testing.T) {
	a, table := kernelApplier(t, "skiff-test")
	ctx := context.Background()
	svcs, slices := fixture()
	if err := a.apply(ctx, buildState(testNode, model(t, svcs, slices))); err != nil {
		t.Fatal(err)
	}
	slices[0] = slice("default", "web", map[string]int32{"http": 8080}, ready("10.244.0.5", "n1"), ready("10.244.0.16", "n1"))
	slices[1] = slice("default", "sticky", map[string]int32{"": 80})
	changed := buildState(testNode, model(t, svcs, slices))
	if err := a.apply(ctx, changed); err != nil {
		t.Fatal(err)
	}
	// A restarted proxy knows nothing of the table: a full sync with
	// stale chains in it.
	svcs = svcs[:1]
	restarted := &applier{nft: a.nft}
	if err := restarted.apply(ctx, buildState(testNode, model(t, svcs, slices))); err != nil {
		t.Fatal(err)
	}
	listing := listTable(t, table)
	if !strings.Contains(listing, "10.96.0.20 . tcp . 80 : goto service-") || !strings.Contains(listing, "dnat to 10.244.0.16:8080") {
		t.Errorf("the web Service's rules are missing:\n%s", listing)
	}
	for _, gone := range []string{"10.96.0.22", "10.244.1.5", "affinity-", "external-"} {
		if strings.Contains(listing, gone) {
			t.Errorf("%s is still in the table:\n%s", gone, listing)
		}
	}
}
