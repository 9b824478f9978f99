package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/knftables"

	"github.com/skiffhq/skiff/test/testserver"
)

// flakyNFT fails every transaction while fail is set, as a kernel that
// refuses them would.
type flakyNFT struct {
	*knftables.Fake
	fail atomic.Bool
}

func (f *flakyNFT) Run(ctx context.Context, tx *knftables.Transaction) error {
	if f.fail.Load() {
		return errors.New("injected: Could not process rule: Operation not permitted")
	}
	return f.Fake.Run(ctx, tx)
}

func nodeCondition(t *testing.T, c *fake.Clientset) (corev1.NodeCondition, bool) {
	t.Helper()
	n, err := c.CoreV1().Nodes().Get(context.Background(), "n1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cond := range n.Status.Conditions {
		if cond.Type == ConditionServiceProxyReady {
			return cond, true
		}
	}
	return corev1.NodeCondition{}, false
}

// A failed transaction is retried and shown on the Node; a Service the
// proxy cannot implement gets an Event and leaves the others alone;
// changes reach the table.
func TestProxierSyncsRetriesAndReports(t *testing.T) {
	svcs, slices := fixture()
	bad := service("default", "bad", "10.96.0.40", []corev1.ServicePort{{Name: "x", Port: 9, Protocol: "ICMP"}})
	objs := []runtime.Object{&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, bad}
	for _, s := range svcs {
		objs = append(objs, s)
	}
	for _, s := range slices {
		objs = append(objs, s)
	}
	client := fake.NewClientset(objs...)
	nft := &flakyNFT{Fake: knftables.NewFake(knftables.IPv4Family, "skiff-services")}
	nft.fail.Store(true)
	p := newProxier(Config{Client: client, NodeName: "n1", Bridge: "skiff0", Table: "skiff-services", NodePortIPs: []string{"192.168.1.10"}}, nft)
	var cleared atomic.Value
	cleared.Store(staleUDP{})
	p.clearConntrack = func(s staleUDP) (uint, error) {
		all := staleUDP{}
		for k := range cleared.Load().(staleUDP) {
			all[k] = true
		}
		for k := range s {
			all[k] = true
		}
		cleared.Store(all)
		return uint(len(s)), nil
	}
	run(t, p)

	testserver.Eventually(t, 10*time.Second, func() error {
		c, ok := nodeCondition(t, client)
		if !ok || c.Status != corev1.ConditionFalse || c.Reason != "RulesNotApplied" || !strings.Contains(c.Message, "Operation not permitted") {
			return fmt.Errorf("condition %+v", c)
		}
		return nil
	})
	if dump := nft.Dump(); strings.Contains(dump, "10.96.0.20") {
		t.Fatalf("a failed transaction left rules:\n%s", dump)
	}
	nft.fail.Store(false)
	testserver.Eventually(t, 10*time.Second, func() error {
		c, ok := nodeCondition(t, client)
		if !ok || c.Status != corev1.ConditionTrue || c.Reason != "RulesApplied" {
			return fmt.Errorf("condition %+v", c)
		}
		return nil
	})
	if dump := nft.Dump(); !strings.Contains(dump, "10.96.0.20 . tcp . 80 : goto service-") {
		t.Fatalf("the rules were not applied after the retry:\n%s", dump)
	}
	testserver.Eventually(t, 10*time.Second, func() error {
		events, err := client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Name == "bad" && e.Reason == "UnsupportedProtocol" && e.Type == corev1.EventTypeWarning {
				return nil
			}
		}
		return fmt.Errorf("no UnsupportedProtocol event for the bad Service among %d events", len(events.Items))
	})

	// A UDP endpoint that goes has its flows cleared, once its rules are gone.
	udp := service("default", "dns", "10.96.0.53", []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}})
	udpSlice := slice("default", "dns", nil, ready("10.244.0.60", "n1"), ready("10.244.0.61", "n1"))
	udpSlice.Ports = []discoveryv1.EndpointPort{{Name: new("dns"), Port: new(int32(5353)), Protocol: new(corev1.ProtocolUDP)}}
	if _, err := client.CoreV1().Services("default").Create(context.Background(), udp, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.DiscoveryV1().EndpointSlices("default").Create(context.Background(), udpSlice, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testserver.Eventually(t, 10*time.Second, func() error {
		if !strings.Contains(nft.Dump(), "dnat to 10.244.0.61:5353") {
			return errors.New("the UDP Service is not in the table")
		}
		return nil
	})
	udpSlice.Endpoints = udpSlice.Endpoints[:1]
	if _, err := client.DiscoveryV1().EndpointSlices("default").Update(context.Background(), udpSlice, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testserver.Eventually(t, 10*time.Second, func() error {
		if got := cleared.Load().(staleUDP); !got["10.244.0.61:5353"] || got["10.244.0.60:5353"] {
			return fmt.Errorf("cleared flows of %v, want those of 10.244.0.61:5353 only", got)
		}
		if strings.Contains(nft.Dump(), "10.244.0.61") {
			return errors.New("the removed endpoint is still in the table")
		}
		return nil
	})

	// A new endpoint is live in the table.
	s := slice("default", "empty", map[string]int32{"": 80}, ready("10.244.0.50", "n1"))
	if _, err := client.DiscoveryV1().EndpointSlices("default").Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testserver.Eventually(t, 10*time.Second, func() error {
		if dump := nft.Dump(); !strings.Contains(dump, "dnat to 10.244.0.50:80") || strings.Contains(dump, "10.96.0.21 . tcp . 80 : goto reject-chain") {
			return errors.New("the new endpoint is not in the table")
		}
		return nil
	})
}

// A DNS address that is taken leaves the node without cluster DNS (and
// out of kube-dns's endpoints) but the proxy running.
func TestProxierDNSAddressTaken(t *testing.T) {
	taken, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Annotations: map[string]string{DNSAddressAnnotation: "127.0.0.1:53"}}}
	client := fake.NewClientset(node)
	nft := &flakyNFT{Fake: knftables.NewFake(knftables.IPv4Family, "skiff-services")}
	p := newProxier(Config{Client: client, NodeName: "n1", Bridge: "skiff0", Table: "skiff-services", DNSAddress: taken.LocalAddr().String()}, nft)
	run(t, p)
	testserver.Eventually(t, 10*time.Second, func() error {
		n, err := client.CoreV1().Nodes().Get(context.Background(), "n1", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if v, ok := n.Annotations[DNSAddressAnnotation]; ok {
			return fmt.Errorf("the node still announces DNS at %q", v)
		}
		if c, ok := nodeCondition(t, client); !ok || c.Status != corev1.ConditionTrue {
			return fmt.Errorf("the proxy is not syncing: %+v", c)
		}
		return nil
	})
}

// A LoadBalancer Service with externalTrafficPolicy Local answers on its
// health check node port: 200 with local endpoints, 503 without.
func TestProxierHealthCheckNodePort(t *testing.T) {
	port, err := testserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	svc := service("default", "lb", "10.96.0.80", []corev1.ServicePort{tcp("", 80)}, func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.Ports[0].NodePort = 30090
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		s.Spec.HealthCheckNodePort = int32(port)
	})
	sl := slice("default", "lb", map[string]int32{"": 80}, ready("10.244.0.90", "n1"))
	client := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, svc, sl)
	p := newProxier(Config{Client: client, NodeName: "n1", Bridge: "skiff0", Table: "skiff-services"}, &flakyNFT{Fake: knftables.NewFake(knftables.IPv4Family, "skiff-services")})
	run(t, p)
	check := func(wantCode int, wantBody string) {
		t.Helper()
		testserver.Eventually(t, 10*time.Second, func() error {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != wantCode || !strings.Contains(string(body), wantBody) {
				return fmt.Errorf("health check: %d %s", resp.StatusCode, body)
			}
			return nil
		})
	}
	check(http.StatusOK, `"localEndpoints":1`)
	sl.Endpoints[0].NodeName = new("n2")
	if _, err := client.DiscoveryV1().EndpointSlices("default").Update(context.Background(), sl, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	check(http.StatusServiceUnavailable, `"localEndpoints":0`)
}

// run runs p until the test ends.
func run(t *testing.T, p *Proxier) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}
