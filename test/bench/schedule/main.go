// Command schedule measures how fast `skiff server --sim-nodes N` brings
// Deployments totalling P pods to Running: pods per second from the first
// create to the last pod Running, and the p50/p99 of each pod's time from
// creation to Running, seen by a client watching pods. It prints a
// markdown table and writes JSON next to it. It never asserts.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

type result struct {
	Name   string    `json:"name"`
	Unit   string    `json:"unit"`
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Runs   []float64 `json:"runs"`
	Goal   string    `json:"goal,omitempty"`
}

func main() {
	bin := flag.String("bin", "bin/skiff", "skiff binary to measure")
	nodes := flag.Int("nodes", 100, "simulated nodes")
	pods := flag.Int("pods", 10000, "pods in all")
	deployments := flag.Int("deployments", 10, "Deployments sharing the pods")
	runs := flag.Int("runs", 1, "runs")
	out := flag.String("out", "test/bench/results", "directory for results")
	flag.Parse()

	var rate, p50, p99, rss, peak []float64
	for i := 0; i < *runs; i++ {
		m := measure(*bin, *nodes, *pods, *deployments)
		rate, p50, p99 = append(rate, m.rate), append(p50, m.p50), append(p99, m.p99)
		rss, peak = append(rss, m.rssMiB), append(peak, m.peakMiB)
	}
	label := fmt.Sprintf("%d pods, %d sim nodes", *pods, *nodes)
	report([]result{
		summarize("pods to Running per second, "+label, "pods/s", rate, ">= 500"),
		summarize("creation to Running p50, "+label, "ms", p50, ""),
		summarize("creation to Running p99, "+label, "ms", p99, ""),
		summarize("server RSS with all pods Running, "+label, "MiB", rss, "< 1024"),
		summarize("server peak RSS, "+label, "MiB", peak, ""),
	}, *out, fmt.Sprintf("schedule-%d", *nodes))
}

type measurement struct {
	rate, p50, p99  float64
	rssMiB, peakMiB float64
}

// memory reads a process's resident and peak resident set in MiB.
func memory(pid int) (rss, peak float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	must(err)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return rss, peak
}

func measure(bin string, nodes, pods, deployments int) measurement {
	dir, err := os.MkdirTemp("", "skiff-bench-schedule-")
	must(err)
	defer os.RemoveAll(dir)
	port := freePort()
	cmd := exec.Command(bin, "server", "--data-dir", dir, "--secure-port", strconv.Itoa(port), "--disable-agent", "--sim-nodes", strconv.Itoa(nodes),
		"--sim-node-pods", strconv.Itoa(max(110, 2*pods/nodes)))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	must(cmd.Start())
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_, _ = cmd.Process.Wait()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	var c kubernetes.Interface
	for {
		cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig"))
		if err == nil {
			cfg.QPS, cfg.Burst = -1, 0
			if c, err = kubernetes.NewForConfig(cfg); err == nil {
				if list, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil && ready(list.Items) == nodes {
					break
				}
			}
		}
		if ctx.Err() != nil {
			panic("nodes not ready")
		}
		time.Sleep(100 * time.Millisecond)
	}

	var mu sync.Mutex
	seen, running := map[types.UID]time.Time{}, map[types.UID]time.Time{}
	done := make(chan struct{})
	// An informer, not a bare watch: the server closes watches that fall
	// behind, and the reflector resumes them.
	record := func(obj any) {
		p, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if _, ok := seen[p.UID]; !ok {
			seen[p.UID] = now
		}
		if _, ok := running[p.UID]; !ok && p.Status.Phase == corev1.PodRunning {
			running[p.UID] = now
			if len(running) == pods {
				close(done)
			}
		}
	}
	factory := informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithNamespace("default"))
	inf := factory.Core().V1().Pods().Informer()
	_, err = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: record, UpdateFunc: func(_, obj any) { record(obj) }})
	must(err)
	ictx, stopInformer := context.WithCancel(ctx)
	factory.Start(ictx.Done())
	factory.WaitForCacheSync(ictx.Done())
	defer func() {
		stopInformer()
		factory.Shutdown()
	}()

	start := time.Now()
	per := pods / deployments
	var wg sync.WaitGroup
	for i := range deployments {
		n := int32(per)
		if i == deployments-1 {
			n = int32(pods - per*(deployments-1))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			labels := map[string]string{"bench": strconv.Itoa(i)}
			d := &appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%d", i)},
				Spec: appsv1.DeploymentSpec{Replicas: &n, Selector: &metav1.LabelSelector{MatchLabels: labels},
					Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
						Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "bench"}}}}},
			}
			_, err := c.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{})
			must(err)
		}()
	}
	wg.Wait()
	// The watch can fall behind under this load; a list every second
	// decides when all pods run, the informer gives per-pod times.
	end := time.Time{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for end.IsZero() {
		select {
		case <-done:
			end = time.Now()
		case <-ctx.Done():
			panic("pods not running in time")
		case <-tick.C:
			list, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{FieldSelector: "status.phase=Running", ResourceVersion: "0"})
			if err == nil && len(list.Items) >= pods {
				end = time.Now()
			}
		}
	}
	total := end.Sub(start)
	rss, peak := memory(cmd.Process.Pid)
	mu.Lock()
	defer mu.Unlock()
	var lat []float64
	for uid, r := range running {
		lat = append(lat, float64(r.Sub(seen[uid]).Milliseconds()))
	}
	sort.Float64s(lat)
	if len(lat) < pods {
		fmt.Fprintf(os.Stderr, "latencies from %d of %d pods (the watch fell behind)\n", len(lat), pods)
	}
	if len(lat) == 0 {
		lat = []float64{0}
	}
	return measurement{rate: float64(pods) / total.Seconds(), p50: lat[len(lat)/2], p99: lat[len(lat)*99/100], rssMiB: rss, peakMiB: peak}
}

func ready(nodes []corev1.Node) int {
	n := 0
	for _, node := range nodes {
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue && len(node.Spec.Taints) == 0 {
				n++
			}
		}
	}
	return n
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func summarize(name, unit string, runs []float64, goal string) result {
	s := append([]float64(nil), runs...)
	sort.Float64s(s)
	return result{Name: name, Unit: unit, Median: s[len(s)/2], Min: s[0], Max: s[len(s)-1], Runs: runs, Goal: goal}
}

func report(results []result, dir, name string) {
	must(os.MkdirAll(dir, 0o755))
	commit, _ := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	md := "| measurement | median | min | max | goal |\n|---|---|---|---|---|\n"
	for _, r := range results {
		md += fmt.Sprintf("| %s | %.1f %s | %.1f | %.1f | %s |\n", r.Name, r.Median, r.Unit, r.Min, r.Max, r.Goal)
	}
	md += fmt.Sprintf("\n%d CPUs, commit %s, %s\n", runtime.NumCPU(), string(commit[:max(0, len(commit)-1)]), time.Now().Format("2006-01-02"))
	fmt.Print(md)
	must(os.WriteFile(filepath.Join(dir, name+".md"), []byte(md), 0o644))
	j, _ := json.MarshalIndent(results, "", "  ")
	must(os.WriteFile(filepath.Join(dir, name+".json"), j, 0o644))
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
