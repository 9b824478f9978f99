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

	var results []bench.Result
	fresh, existing, rssFresh, rssExisting := measureStart(*bin, *runs, *idle)
	results = append(results,
		bench.Summarize("start to /readyz, fresh data dir", "ms", fresh, "< 1000"),
		bench.Summarize("start to /readyz, existing data dir", "ms", existing, "< 1000"),
		bench.Summarize(fmt.Sprintf("RSS after %s idle, fresh data dir", *idle), "MiB", rssFresh, "< 120"),
		bench.Summarize(fmt.Sprintf("RSS after %s idle, existing data dir", *idle), "MiB", rssExisting, "< 120"),
	)
	if fi, err := os.Stat(*bin); err == nil {
		size := float64(fi.Size()) / (1 << 20)
		results = append(results, bench.Summarize("binary size (stripped)", "MiB", []float64{size}, "none set"))
	}
	bench.Report(results, *out, "startup")
}

func measureStart(bin string, runs int, idle time.Duration) (fresh, existing, rssFresh, rssExisting []float64) {
	for i := 0; i < runs; i++ {
		dir, err := os.MkdirTemp("", "skiff-bench-")
		bench.Must(err)
		d, p := start(bin, dir)
		fresh = append(fresh, d)
		if i == 0 {
			time.Sleep(idle)
			rssFresh = append(rssFresh, rss(p.Pid))
		}
		stop(p)
		d, p = start(bin, dir)
		existing = append(existing, d)
		if i == 0 {
			time.Sleep(idle)
			rssExisting = append(rssExisting, rss(p.Pid))
		}
		stop(p)
		_ = os.RemoveAll(dir)
	}
	return fresh, existing, rssFresh, rssExisting
}

func start(bin, dir string) (float64, *os.Process) {
	port := bench.FreePort()
	cmd := exec.Command(bin, "server", "--data-dir", dir, "--secure-port", strconv.Itoa(port), "--disable-agent")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	begin := time.Now()
	bench.Must(cmd.Start())
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	url := fmt.Sprintf("https://127.0.0.1:%d/readyz", port)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for ctx.Err() == nil {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return float64(time.Since(begin).Microseconds()) / 1000, cmd.Process
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	panic("server not ready within a minute")
}

func stop(p *os.Process) {
	_ = p.Signal(syscall.SIGTERM)
	_, _ = p.Wait()
}

func rss(pid int) float64 {
	r, _ := bench.Memory(pid)
	return r
}
