// Command runtimefloor measures what the podstart benchmark cannot go
// below on this machine: N pods started at once straight through skiff's
// containerd runtime (network namespace, CNI, container create and start),
// with no API server, scheduler, controllers or status writes, by as
// many workers as the node agent has. Each pod's time is from the common
// start to its container running (p50, p99), over several runs. Needs
// root and the runtime packages (hack/install-deps.sh). It prints a
// markdown table and writes JSON next to it; it never asserts.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/kubelet/containerd"
	"github.com/skiffhq/skiff/kubelet/network"
	"github.com/skiffhq/skiff/test/bench"
	"github.com/skiffhq/skiff/test/images"
)

func main() {
	pods := flag.Int("pods", 30, "pods started at once")
	workers := flag.Int("workers", 16, "pods started in parallel (the node agent's workers)")
	runs := flag.Int("runs", 5, "runs")
	out := flag.String("out", "test/bench/results", "directory for results")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "runtimefloor: needs root (containerd)")
		os.Exit(1)
	}
	ctx := bench.Interruptible()
	var p50, p99 []float64
	for range *runs {
		a, b := measure(ctx, *pods, *workers)
		p50, p99 = append(p50, a), append(p99, b)
	}
	label := fmt.Sprintf("%d pods at once straight through the runtime, %d workers", *pods, *workers)
	bench.Report([]bench.Result{
		bench.Summarize("start to running p50, "+label, "ms", p50, ""),
		bench.Summarize("start to running p99, "+label, "ms", p99, ""),
	}, *out, "runtimefloor")
}

func measure(ctx context.Context, n, workers int) (p50, p99 float64) {
	dir, removeDir := bench.TempDir("skiff-bench-floor-")
	defer removeDir()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()

	sup := &containerd.Supervisor{Dir: dir + "/containerd"}
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(sctx) }()
	defer bench.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			fmt.Fprintf(os.Stderr, "containerd: %v\n", err)
		}
	})()
	bench.Must(sup.WaitReady(ctx))
	var image bytes.Buffer
	bench.Must(images.Build(&image, "/bin/busybox"))
	c, cctx, err := containerd.Connect(ctx, sup.Address())
	bench.Must(err)
	_, err = containerd.Import(cctx, c, &image)
	bench.Must(err)
	c.Close()

	bridge := fmt.Sprintf("skf%d", os.Getpid()%100000)
	defer bench.Cleanup(func() { _ = network.RemoveNode(context.Background(), bridge) })()
	rctx, rcancel := context.WithCancel(context.Background())
	defer rcancel()
	rt, err := containerd.New(rctx, containerd.Config{Address: sup.Address(), StateDir: dir + "/state", Bridge: bridge})
	bench.Must(err)
	defer bench.Cleanup(func() { rt.Close() })()

	list := make([]*corev1.Pod, n)
	for i := range list {
		list[i] = &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("floor-%d", i), Namespace: "default", UID: types.UID(fmt.Sprintf("floor-%d-%d", os.Getpid(), i))},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: images.Name,
				ImagePullPolicy: corev1.PullNever, Command: []string{"sleep", "3600"}}}},
		}
	}
	defer bench.Cleanup(func() {
		for _, p := range list {
			if err := rt.RemovePod(context.Background(), p.UID); err != nil {
				fmt.Fprintf(os.Stderr, "removing pod %s: %v\n", p.Name, err)
			}
		}
	})()
	queue := make(chan int, n)
	for i := range n {
		queue <- i
	}
	close(queue)
	took := make([]float64, n)
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range queue {
				p := list[i]
				_, err := rt.StartSandbox(ctx, p, "10.250.0.0/24")
				bench.Must(err)
				bench.Must(rt.StartContainer(ctx, p, &p.Spec.Containers[0], 0, nil))
				took[i] = float64(time.Since(start).Milliseconds())
			}
		})
	}
	wg.Wait()
	sort.Float64s(took)
	return took[n/2], took[min(n-1, n*99/100)]
}
