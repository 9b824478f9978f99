// Command api measures `skiff server`'s API: N concurrent clients (each
// with its own connection) that create, get, list, update and delete
// ConfigMaps in a loop for a while, giving requests per second and the
// p50/p99 latency of each verb; and the watch fan-out, the time from an
// update of one ConfigMap to its delivery at the last of W watchers; and
// the latency a no-op validating webhook and a CEL admission policy add to
// a create. It prints a markdown table and writes JSON next to it; it
// never asserts.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiffhq/skiff/test/bench"
)

// verbs are the operations of one loop, in order.
var verbs = []string{"create", "get", "list", "update", "delete"}

func main() {
	bin := flag.String("bin", "bin/skiff", "skiff binary to measure")
	clientCounts := flag.String("clients", "10,100", "numbers of concurrent clients")
	duration := flag.Duration("duration", 30*time.Second, "how long the clients run, per run")
	watchers := flag.Int("watchers", 1000, "watchers of one ConfigMap for the fan-out")
	writes := flag.Int("writes", 20, "updates timed per fan-out run")
	runs := flag.Int("runs", 5, "runs per measurement")
	admissionCreates := flag.Int("admission-creates", 1000, "creates timed per kind of admission extension and run (0: none)")
	out := flag.String("out", "test/bench/results", "directory for results")
	flag.Parse()

	ctx := bench.Interruptible()
	dir, removeDir := bench.TempDir("skiff-bench-api-")
	defer removeDir()
	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	server := bench.StartServer(startCtx, *bin, dir, 0, "--disable-agent")
	cancel()
	defer server.Stop()
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig"))
	bench.Must(err)
	cfg.QPS, cfg.Burst = -1, 0

	var results []bench.Result
	for _, field := range strings.Split(*clientCounts, ",") {
		if strings.TrimSpace(field) == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(field))
		bench.Must(err)
		rps, cpu := []float64{}, []float64{}
		lat := map[string][2][]float64{}
		for run := range *runs {
			var profiled <-chan struct{}
			if run == 0 {
				profiled = server.Profile(ctx, "profile", fmt.Sprintf("api-%d-clients.cpu.pprof", n), *duration*8/10)
			}
			cpu0 := bench.CPUSeconds(server.Cmd.Process.Pid)
			r, p, total := load(ctx, cfg, n, *duration, fmt.Sprintf("bench-%d-%d", n, run))
			cpu = append(cpu, (bench.CPUSeconds(server.Cmd.Process.Pid)-cpu0)*1000/float64(total))
			if profiled != nil {
				<-profiled
			}
			rps = append(rps, r)
			for _, v := range verbs {
				l := lat[v]
				l[0], l[1] = append(l[0], p[v][0]), append(l[1], p[v][1])
				lat[v] = l
			}
		}
		label := fmt.Sprintf("%d clients", n)
		results = append(results, bench.Summarize("ConfigMap requests per second, "+label, "req/s", rps, ">= 3000"),
			// The server's own CPU time per request (the clients share
			// the machine): the ceiling on this machine's cores is
			// cores / this, wherever the clients run.
			bench.Summarize("server CPU per request, "+label, "ms", cpu, ""))
		for _, v := range verbs {
			p99 := bench.Summarize(fmt.Sprintf("%s p99, %s", v, label), "ms", lat[v][1], "")
			if v != "get" && v != "list" {
				p99 = p99.WithAnchor("Kubernetes SLO: mutating calls p99 ≤ 1 s")
				if n >= 100 {
					p99.Goal = "< 50"
				}
			}
			results = append(results, bench.Summarize(fmt.Sprintf("%s p50, %s", v, label), "ms", lat[v][0], ""), p99)
		}
	}
	if *watchers > 0 {
		var p50, p99 []float64
		for range *runs {
			a, b := fanOut(ctx, cfg, *watchers, *writes)
			p50, p99 = append(p50, a), append(p99, b)
		}
		label := fmt.Sprintf("%d watchers of one ConfigMap", *watchers)
		results = append(results,
			bench.Summarize("update to delivery at the last watcher p50, "+label, "ms", p50, ""),
			bench.Summarize("update to delivery at the last watcher p99, "+label, "ms", p99, ""))
	}
	if *admissionCreates > 0 {
		lat := map[string][2][]float64{}
		var addedWebhook, addedPolicy, addedMutating [2][]float64
		for run := range *runs {
			got := admissionLatency(ctx, cfg, *admissionCreates, fmt.Sprintf("bench-admission-%d", run))
			for _, kind := range extensions {
				l := lat[kind]
				l[0], l[1] = append(l[0], got[kind][0]), append(l[1], got[kind][1])
				lat[kind] = l
			}
			for q := range 2 {
				addedWebhook[q] = append(addedWebhook[q], got["webhook"][q]-got["none"][q])
				addedPolicy[q] = append(addedPolicy[q], got["policy"][q]-got["none"][q])
				addedMutating[q] = append(addedMutating[q], got["mutating-policy"][q]-got["none"][q])
			}
		}
		label := fmt.Sprintf("%d ConfigMap creates one after another", *admissionCreates)
		results = append(results,
			bench.Summarize("create p50, no webhook or policy, "+label, "ms", lat["none"][0], ""),
			bench.Summarize("create p99, no webhook or policy, "+label, "ms", lat["none"][1], ""),
			bench.Summarize("added by one no-op validating webhook (TLS, loopback) p50", "ms", addedWebhook[0], ""),
			bench.Summarize("added by one no-op validating webhook (TLS, loopback) p99", "ms", addedWebhook[1], ""),
			bench.Summarize("added by one CEL ValidatingAdmissionPolicy p50", "ms", addedPolicy[0], ""),
			bench.Summarize("added by one CEL ValidatingAdmissionPolicy p99", "ms", addedPolicy[1], ""),
			bench.Summarize("added by one CEL MutatingAdmissionPolicy (apply configuration) p50", "ms", addedMutating[0], ""),
			bench.Summarize("added by one CEL MutatingAdmissionPolicy (apply configuration) p99", "ms", addedMutating[1], ""))
	}
	<-server.Profile(ctx, "heap", "api.heap.pprof", 0)
	bench.Report(results, *out, "api")
}

// ownConnection is cfg for a client of its own: a dialer of its own
// keeps client-go from sharing one connection between clients.
func ownConnection(cfg *rest.Config) kubernetes.Interface {
	c := rest.CopyConfig(cfg)
	c.Dial = (&net.Dialer{Timeout: 10 * time.Second}).DialContext
	client, err := kubernetes.NewForConfig(c)
	bench.Must(err)
	return client
}

// load runs n clients for d in namespace ns and returns the requests per
// second, each verb's p50 and p99 in ms, and the requests completed.
func load(ctx context.Context, cfg *rest.Config, n int, d time.Duration, ns string) (float64, map[string][2]float64, int) {
	admin := ownConnection(cfg)
	_, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	bench.Must(err)
	// The server and its data go at the end; the namespace's objects are
	// deleted now so that later runs start from the same store.
	defer func() {
		_ = admin.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	}()
	clients := make([]kubernetes.Interface, n)
	for i := range clients {
		clients[i] = ownConnection(cfg)
	}
	var mu sync.Mutex
	took := map[string][]float64{}
	var wg sync.WaitGroup
	runCtx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	begin := time.Now()
	for i, client := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := map[string][]float64{}
			defer func() {
				mu.Lock()
				for v, l := range mine {
					took[v] = append(took[v], l...)
				}
				mu.Unlock()
			}()
			cms := client.CoreV1().ConfigMaps(ns)
			for loop := 0; runCtx.Err() == nil; loop++ {
				name := fmt.Sprintf("c%d-%d", i, loop)
				timed := func(verb string, f func() error) bool {
					t0 := time.Now()
					err := f()
					if err != nil {
						if runCtx.Err() == nil {
							bench.Must(fmt.Errorf("%s %s: %w", verb, name, err))
						}
						return false
					}
					mine[verb] = append(mine[verb], float64(time.Since(t0).Microseconds())/1000)
					return true
				}
				var cm *corev1.ConfigMap
				ok := timed("create", func() (err error) {
					cm, err = cms.Create(runCtx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{})
					return err
				}) && timed("get", func() (err error) {
					cm, err = cms.Get(runCtx, name, metav1.GetOptions{})
					return err
				}) && timed("list", func() error {
					_, err := cms.List(runCtx, metav1.ListOptions{LabelSelector: "absent=true"})
					return err
				}) && timed("update", func() (err error) {
					cm.Data["k"] = "w"
					cm, err = cms.Update(runCtx, cm, metav1.UpdateOptions{})
					return err
				}) && timed("delete", func() error {
					return cms.Delete(runCtx, name, metav1.DeleteOptions{})
				})
				if !ok {
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin).Seconds()
	total := 0
	out := map[string][2]float64{}
	for _, v := range verbs {
		l := took[v]
		total += len(l)
		slices.Sort(l)
		if len(l) == 0 {
			bench.Must(fmt.Errorf("no %s completed", v))
		}
		out[v] = [2]float64{l[len(l)/2], l[min(len(l)-1, len(l)*99/100)]}
	}
	return float64(total) / elapsed, out, total
}

// fanOut starts w watchers of one ConfigMap, updates it writes times,
// and returns the p50 and p99 of the time from each update's start to
// its delivery at the last watcher, in ms.
func fanOut(ctx context.Context, cfg *rest.Config, w, writes int) (float64, float64) {
	admin := ownConnection(cfg)
	ns := "default"
	name := fmt.Sprintf("fanout-%d", time.Now().UnixNano())
	cm, err := admin.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"n": "0"}}, metav1.CreateOptions{})
	bench.Must(err)
	defer func() {
		_ = admin.CoreV1().ConfigMaps(ns).Delete(context.Background(), name, metav1.DeleteOptions{})
	}()
	// Watchers share a few connections, as many processes' informers
	// would spread over several.
	const perConnection = 100
	var conns []kubernetes.Interface
	for range (w + perConnection - 1) / perConnection {
		conns = append(conns, ownConnection(cfg))
	}
	type delivery struct {
		value string
		at    time.Time
	}
	got := make(chan delivery, w*4)
	watchCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var started sync.WaitGroup
	for i := range w {
		started.Add(1)
		go func() {
			wi, err := conns[i/perConnection].CoreV1().ConfigMaps(ns).Watch(watchCtx, metav1.ListOptions{
				FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(), ResourceVersion: cm.ResourceVersion})
			started.Done()
			bench.Must(err)
			defer wi.Stop()
			for ev := range wi.ResultChan() {
				if ev.Type == watch.Modified {
					got <- delivery{value: ev.Object.(*corev1.ConfigMap).Data["n"], at: time.Now()}
				}
			}
		}()
	}
	started.Wait()
	var lat []float64
	for i := 1; i <= writes; i++ {
		cm.Data["n"] = strconv.Itoa(i)
		t0 := time.Now()
		cm, err = admin.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{})
		bench.Must(err)
		var last time.Time
		for seen := 0; seen < w; {
			select {
			case d := <-got:
				if d.value == strconv.Itoa(i) {
					seen++
					last = d.at
				}
			case <-time.After(time.Minute):
				bench.Must(fmt.Errorf("update %d reached %d of %d watchers within a minute", i, seen, w))
			}
		}
		lat = append(lat, float64(last.Sub(t0).Microseconds())/1000)
	}
	slices.Sort(lat)
	return lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
}
