// Command podstart measures pod startup on containerd: `skiff server`
// with this machine as its node and the test image present, a Deployment
// of N replicas, and each pod's time from creation to Running and to
// Ready (p50, p99), seen by a client watching pods, over several runs.
// Needs root and the runtime packages (hack/install-deps.sh). It prints a
// markdown table and writes JSON next to it; it never asserts.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/skiffhq/skiff/test/bench"
)

func main() {
	bin := flag.String("bin", "bin/skiff", "skiff binary to measure")
	image := flag.String("image", "bin/test-image.tar", "the test image tarball (make test-image)")
	replicas := flag.Int("replicas", 30, "pods in the Deployment")
	runs := flag.Int("runs", 5, "runs")
	out := flag.String("out", "test/bench/results", "directory for results")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "podstart: needs root (containerd)")
		os.Exit(1)
	}
	ctx := bench.Interruptible()
	var bind50, bind99, run50, run99, ready50, ready99 []float64
	for range *runs {
		a, b, c, d, e, f := measure(ctx, *bin, *image, *replicas)
		bind50, bind99 = append(bind50, a), append(bind99, b)
		run50, run99, ready50, ready99 = append(run50, c), append(run99, d), append(ready50, e), append(ready99, f)
	}
	label := fmt.Sprintf("%d-replica Deployment, containerd, image present", *replicas)
	bench.Report([]bench.Result{
		bench.Summarize("creation to scheduled p50, "+label, "ms", bind50, ""),
		bench.Summarize("creation to scheduled p99, "+label, "ms", bind99, ""),
		bench.Summarize("creation to Running p50, "+label, "ms", run50, "< 500"),
		bench.Summarize("creation to Running p99, "+label, "ms", run99, "< 1500").WithAnchor("Kubernetes SLO: 5 s p99; upstream kubelet on this machine: p50 3.7–4.7 s"),
		bench.Summarize("creation to Ready p50, "+label, "ms", ready50, ""),
		bench.Summarize("creation to Ready p99, "+label, "ms", ready99, ""),
	}, *out, "podstart")
}

func measure(ctx context.Context, bin, image string, replicas int) (bind50, bind99, run50, run99, ready50, ready99 float64) {
	dir, removeDir := bench.TempDir("skiff-bench-podstart-")
	defer removeDir()
	bench.Must(os.MkdirAll(filepath.Join(dir, "images"), 0o700))
	data, err := os.ReadFile(image)
	bench.Must(err)
	bench.Must(os.WriteFile(filepath.Join(dir, "images", "test-image.tar"), data, 0o600))
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	srv := bench.StartNodeServer(ctx, bin, dir)
	defer srv.Stop()
	c := srv.Client

	var mu sync.Mutex
	seen, bound, running, ready := map[types.UID]time.Time{}, map[types.UID]time.Time{}, map[types.UID]time.Time{}, map[types.UID]time.Time{}
	done := make(chan struct{})
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
		if _, ok := bound[p.UID]; !ok && p.Spec.NodeName != "" {
			bound[p.UID] = now
		}
		if _, ok := running[p.UID]; !ok && p.Status.Phase == corev1.PodRunning {
			running[p.UID] = now
		}
		for _, cond := range p.Status.Conditions {
			if _, ok := ready[p.UID]; !ok && cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				ready[p.UID] = now
				if len(ready) == replicas {
					close(done)
				}
			}
		}
	}
	factory := informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithNamespace("default"))
	inf := factory.Core().V1().Pods().Informer()
	_, err = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: record, UpdateFunc: func(_, obj any) { record(obj) }})
	bench.Must(err)
	ictx, stop := context.WithCancel(ctx)
	factory.Start(ictx.Done())
	factory.WaitForCacheSync(ictx.Done())
	defer func() {
		stop()
		factory.Shutdown()
	}()

	n := int32(replicas)
	labels := map[string]string{"bench": "podstart"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "podstart"},
		Spec: appsv1.DeploymentSpec{Replicas: &n, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{TerminationGracePeriodSeconds: new(int64(1)),
					Containers: []corev1.Container{{Name: "c", Image: "skiff.dev/busybox:test", Command: []string{"sleep", "3600"}}}}}},
	}
	_, err = c.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{})
	bench.Must(err)
	select {
	case <-done:
	case <-ctx.Done():
		bench.Must(fmt.Errorf("pods not Ready in time: %w", ctx.Err()))
	}
	mu.Lock()
	var toBind, toRun, toReady []float64
	for uid, t := range bound {
		toBind = append(toBind, float64(t.Sub(seen[uid]).Milliseconds()))
	}
	for uid, t := range running {
		toRun = append(toRun, float64(t.Sub(seen[uid]).Milliseconds()))
	}
	for uid, t := range ready {
		toReady = append(toReady, float64(t.Sub(seen[uid]).Milliseconds()))
	}
	mu.Unlock()
	// Leave no container behind: delete and wait for the pods to go.
	bench.Must(c.AppsV1().Deployments("default").Delete(ctx, "podstart", metav1.DeleteOptions{}))
	for {
		list, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err == nil && len(list.Items) == 0 {
			break
		}
		if ctx.Err() != nil {
			bench.Must(fmt.Errorf("pods not deleted in time: %w", ctx.Err()))
		}
		time.Sleep(200 * time.Millisecond)
	}
	sort.Float64s(toBind)
	sort.Float64s(toRun)
	sort.Float64s(toReady)
	return pct(toBind, 50), pct(toBind, 99), pct(toRun, 50), pct(toRun, 99), pct(toReady, 50), pct(toReady, 99)
}

func pct(sorted []float64, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}
