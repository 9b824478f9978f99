// Command proxy measures the service proxy with N Services of 3
// simulated endpoints each, fed from a fake API (client-go's fake
// clientset) into the real kernel's nftables: the full sync at start,
// the time from an EndpointSlice change to the committed transaction
// (p50, p99), and the latency of a first packet (TCP connect) through a
// Service at N Services against 10. Needs root and nft. It prints a
// markdown table and writes JSON next to it; it never asserts.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/skiffhq/skiff/proxy"
	"github.com/skiffhq/skiff/test/bench"
)

func main() {
	sizes := flag.String("services", "1000,5000", "numbers of Services to measure at")
	runs := flag.Int("runs", 5, "runs per size")
	changes := flag.Int("changes", 100, "EndpointSlice changes timed per run")
	out := flag.String("out", "test/bench/results", "directory for results")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "proxy: needs root (nftables)")
		os.Exit(1)
	}
	bench.Interruptible()
	// However the benchmark ends, its table goes.
	defer bench.Cleanup(func() {
		if err := proxy.Cleanup(context.Background(), benchTable); err != nil {
			fmt.Fprintf(os.Stderr, "removing table %s: %v\n", benchTable, err)
		}
	})()
	hostIP, err := primaryIP()
	bench.Must(err)
	var results []bench.Result
	base := connectLatency(10, hostIP, *runs)
	for _, field := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(field))
		bench.Must(err)
		var full, again, p50, p99 []float64
		for range *runs {
			f, r, a, b := measure(n, *changes)
			full, again, p50, p99 = append(full, f), append(again, r), append(p50, a), append(p99, b)
		}
		label := fmt.Sprintf("%d Services × 3 endpoints", n)
		results = append(results,
			bench.Summarize("full sync, "+label, "ms", full, "< 1000"),
			bench.Summarize("full sync after a restart (over the table left behind), "+label, "ms", again, "< 1000"),
			bench.Summarize("EndpointSlice change to rules live p50, "+label, "ms", p50, ""),
			bench.Summarize("EndpointSlice change to rules live p99, "+label, "ms", p99, "< 100"))
		if n >= 1000 {
			at := connectLatency(n, hostIP, *runs)
			results = append(results,
				bench.Summarize("first packet (TCP connect) through a Service, 10 Services", "µs", base, ""),
				bench.Summarize(fmt.Sprintf("first packet (TCP connect) through a Service, %d Services", n), "µs", at, "same as at 10"))
		}
	}
	bench.Report(results, *out, "proxy")
}

// cluster is a fake API with n Services and their slices.
func cluster(n int, endpointIP func(i, j int) string, port int32) (*fake.Clientset, []*discoveryv1.EndpointSlice) {
	var objs []runtime.Object
	var sls []*discoveryv1.EndpointSlice
	for i := range n {
		name := fmt.Sprintf("svc-%d", i)
		ip := fmt.Sprintf("10.100.%d.%d", i/250, i%250+1)
		objs = append(objs, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: name},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: ip, ClusterIPs: []string{ip},
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(port)}}}})
		s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: name + "-x",
			Labels: map[string]string{discoveryv1.LabelServiceName: name}}, AddressType: discoveryv1.AddressTypeIPv4,
			Ports: []discoveryv1.EndpointPort{{Name: new("http"), Port: new(port), Protocol: new(corev1.ProtocolTCP)}}}
		for j := range 3 {
			s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{endpointIP(i, j)}, NodeName: new("bench"),
				Conditions: discoveryv1.EndpointConditions{Ready: new(true)}})
		}
		objs = append(objs, s)
		sls = append(sls, s)
	}
	objs = append(objs, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "bench"}})
	return fake.NewClientset(objs...), sls
}

func simulated(i, j int) string { return fmt.Sprintf("10.%d.%d.%d", 200+j, i/250, i%250+1) }

// syncs records the proxy's applied syncs.
type syncs struct {
	mu   sync.Mutex
	list []struct {
		start, end time.Time
		full       bool
	}
	signal chan struct{}
}

func (s *syncs) onSync(start, end time.Time, full bool, _ int) {
	s.mu.Lock()
	s.list = append(s.list, struct {
		start, end time.Time
		full       bool
	}{start, end, full})
	s.mu.Unlock()
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

// after waits for the first sync that began after t and returns its end.
func (s *syncs) after(ctx context.Context, t time.Time) time.Time {
	for {
		s.mu.Lock()
		for _, x := range s.list {
			if x.start.After(t) {
				s.mu.Unlock()
				return x.end
			}
		}
		s.mu.Unlock()
		select {
		case <-s.signal:
		case <-ctx.Done():
			bench.Must(fmt.Errorf("no sync after the change: %w", ctx.Err()))
		}
	}
}

// benchTable is the table the benchmark's proxies write.
var benchTable = fmt.Sprintf("skiff-bench-%d", os.Getpid())

// start runs a proxy on a fresh table against client.
func start(ctx context.Context, client *fake.Clientset, rec *syncs) (table string, stop func(keepTable bool)) {
	bench.Must(proxy.Cleanup(context.Background(), benchTable))
	return restart(ctx, client, rec)
}

// restart runs a proxy on the table as it is, as after an agent restart;
// stop removes the table.
func restart(ctx context.Context, client *fake.Clientset, rec *syncs) (table string, stop func(keepTable bool)) {
	table = benchTable
	p, err := proxy.New(proxy.Config{Client: client, NodeName: "bench", Bridge: "skiffbench0", Table: table, OnSync: rec.onSync})
	bench.Must(err)
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(pctx) }()
	return table, func(keepTable bool) {
		cancel()
		bench.Must(<-done)
		if !keepTable {
			bench.Must(proxy.Cleanup(context.Background(), table))
		}
	}
}

// firstSync is how long the first sync took.
func (s *syncs) firstSync(ctx context.Context) float64 {
	end := s.after(ctx, time.Time{})
	s.mu.Lock()
	defer s.mu.Unlock()
	return float64(end.Sub(s.list[0].start).Microseconds()) / 1000
}

// measure returns the full sync time on a fresh table and on the table a
// stopped proxy left, and the change-to-live p50 and p99 at n Services.
func measure(n, changes int) (full, again, p50, p99 float64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	client, sls := cluster(n, simulated, 8080)
	rec := &syncs{signal: make(chan struct{}, 1)}
	_, stop := start(ctx, client, rec)
	full = rec.firstSync(ctx)

	var took []float64
	for c := range changes {
		s := sls[(c*7919)%n].DeepCopy()
		s.Endpoints[c%3].Addresses = []string{fmt.Sprintf("10.210.%d.%d", c/250, c%250+1)}
		t0 := time.Now()
		_, err := client.DiscoveryV1().EndpointSlices("bench").Update(ctx, s, metav1.UpdateOptions{})
		bench.Must(err)
		end := rec.after(ctx, t0)
		took = append(took, float64(end.Sub(t0).Microseconds())/1000)
		sls[(c*7919)%n] = s
	}
	// A restarted proxy rewrites the table the first one left behind.
	stop(true)
	rec2 := &syncs{signal: make(chan struct{}, 1)}
	_, stop2 := restart(ctx, client, rec2)
	again = rec2.firstSync(ctx)
	stop2(false)
	slices.Sort(took)
	return full, again, took[len(took)/2], took[min(len(took)-1, len(took)*99/100)]
}

// connectLatency is the median time of TCP connects from the node to a
// Service's cluster IP whose endpoints are a listener on the node, with
// n Services programmed, over runs × 200 connections.
func connectLatency(n int, hostIP string, runs int) []float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	l, err := net.Listen("tcp", net.JoinHostPort(hostIP, "0"))
	bench.Must(err)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := int32(l.Addr().(*net.TCPAddr).Port)
	client, _ := cluster(n, func(int, int) string { return hostIP }, port)
	rec := &syncs{signal: make(chan struct{}, 1)}
	_, stop := start(ctx, client, rec)
	defer stop(false)
	rec.after(ctx, time.Time{})
	target := fmt.Sprintf("10.100.%d.%d:80", (n-1)/250, (n-1)%250+1)
	var medians []float64
	for range runs {
		var lat []float64
		for range 200 {
			t0 := time.Now()
			c, err := net.DialTimeout("tcp", target, 2*time.Second)
			bench.Must(err)
			lat = append(lat, float64(time.Since(t0).Nanoseconds())/1000)
			c.Close()
		}
		slices.Sort(lat)
		medians = append(medians, lat[len(lat)/2])
	}
	return medians
}

// primaryIP is an address of this machine other than loopback.
func primaryIP() (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() && !strings.HasPrefix(ipn.IP.String(), "10.") {
			return ipn.IP.String(), nil
		}
	}
	return "", fmt.Errorf("no non-loopback IPv4 address")
}
