// Command startup measures `skiff server`: the time from process start to
// /readyz answering ok with a fresh and with an existing data dir, the
// resident memory after an idle period, and the size of the binary. It
// prints a markdown table and writes JSON next to it.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"github.com/skiffhq/skiff/test/bench"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("bin", "bin/skiff", "skiff binary to measure")
	runs := flag.Int("runs", 5, "runs per measurement")
	idle := flag.Duration("idle", 30*time.Second, "idle time before reading RSS")
	out := flag.String("out", "test/bench/results", "directory for results")
	flag.Parse()

	bench.Interruptible()
	var results []bench.Result
	fresh, existing, rssFresh, rssExisting := measureStart(*bin, *runs, *idle)
	results = append(results,
		bench.Summarize("start to /readyz, fresh data dir", "ms", fresh, "< 1000").
			WithAnchor("k3s: tens of seconds; envtest's kube-apiserver + etcd: seconds"),
		bench.Summarize("start to /readyz, existing data dir", "ms", existing, "< 1000"),
		bench.Summarize(fmt.Sprintf("control plane RSS (no node) after %s idle, fresh data dir", *idle), "MiB", rssFresh, "< 120"),
		bench.Summarize(fmt.Sprintf("control plane RSS (no node) after %s idle, existing data dir", *idle), "MiB", rssExisting, "< 120"),
	)
	fi, err := os.Stat(*bin)
	bench.Must(err)
	results = append(results, bench.Summarize("binary size (stripped, static)", "MiB", []float64{float64(fi.Size()) / (1 << 20)}, "< 100").
		WithAnchor("k3s: under 100 MB; k0s: 256 MB"))
	bench.Report(results, *out, "startup")
}

func measureStart(bin string, runs int, idle time.Duration) (fresh, existing, rssFresh, rssExisting []float64) {
	for i := 0; i < runs; i++ {
		dir, removeDir := bench.TempDir("skiff-bench-")
		d, pid, stop := start(bin, dir)
		fresh = append(fresh, d)
		time.Sleep(idle)
		rssFresh = append(rssFresh, rss(pid))
		stop()
		d, pid, stop = start(bin, dir)
		existing = append(existing, d)
		time.Sleep(idle)
		rssExisting = append(rssExisting, rss(pid))
		stop()
		removeDir()
	}
	return fresh, existing, rssFresh, rssExisting
}

// start runs a server and returns its time to /readyz, its PID and a
// function that stops it.
func start(bin, dir string) (float64, int, func()) {
	port := bench.FreePort()
	cmd := exec.Command(bin, "server", "--data-dir", dir, "--secure-port", strconv.Itoa(port), "--disable-agent")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	begin := time.Now()
	bench.Must(cmd.Start())
	stop := bench.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_, _ = cmd.Process.Wait()
	})
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	url := fmt.Sprintf("https://127.0.0.1:%d/readyz", port)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for ctx.Err() == nil {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return float64(time.Since(begin).Microseconds()) / 1000, cmd.Process.Pid, stop
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	bench.Must(fmt.Errorf("server not ready within a minute"))
	return 0, 0, nil
}

func rss(pid int) float64 {
	r, _ := bench.Memory(pid)
	return r
}
