// Command envtest measures skiff as controller-runtime's envtest control
// plane: the time from envtest.Environment.Start (which runs `etcd` and
// `kube-apiserver` from KUBEBUILDER_ASSETS, here links to skiff) until a
// first client request succeeds, and the time to stop it. It prints a
// markdown table and writes JSON next to it; it never asserts.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/skiffhq/skiff/test/bench"
)

func main() {
	bin := flag.String("bin", "bin/skiff", "skiff binary to measure")
	runs := flag.Int("runs", 5, "runs")
	out := flag.String("out", "test/bench/results", "directory for results")
	flag.Parse()
	ctx := bench.Interruptible()
	abs, err := filepath.Abs(*bin)
	bench.Must(err)
	assets, removeAssets := bench.TempDir("skiff-bench-envtest-")
	defer removeAssets()
	for _, name := range []string{"kube-apiserver", "etcd", "kubectl"} {
		bench.Must(os.Symlink(abs, filepath.Join(assets, name)))
	}
	bench.Must(os.Setenv("KUBEBUILDER_ASSETS", assets))

	var usable, stopped []float64
	for range *runs {
		env := &envtest.Environment{}
		begin := time.Now()
		cfg, err := env.Start()
		if err != nil {
			_ = env.Stop()
			bench.Must(fmt.Errorf("envtest did not start: %w", err))
		}
		stop := bench.Cleanup(func() {
			if err := env.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "stopping envtest: %v\n", err)
			}
		})
		client, err := kubernetes.NewForConfig(cfg)
		bench.Must(err)
		_, err = client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bench"}}, metav1.CreateOptions{})
		bench.Must(err)
		usable = append(usable, float64(time.Since(begin).Microseconds())/1000)
		begin = time.Now()
		stop()
		stopped = append(stopped, float64(time.Since(begin).Microseconds())/1000)
	}
	bench.Report([]bench.Result{
		bench.Summarize("envtest Start to the first request served (skiff etcd + skiff apiserver)", "ms", usable, "").
			WithAnchor("envtest's kube-apiserver + etcd: seconds"),
		bench.Summarize("envtest Stop", "ms", stopped, ""),
	}, *out, "envtest")
}
