// Command startup measures `skiff server`: the time from process start to
// /readyz answering ok with a fresh and with an existing data dir, the
// resident memory after an idle period, and the size of the binary. It
// prints a markdown table and writes JSON next to it.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
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
	runs := flag.Int("runs", 5, "runs per measurement")
	idle := flag.Duration("idle", 30*time.Second, "idle time before reading RSS")
	out := flag.String("out", "test/bench/results", "directory for results")
	flag.Parse()

	var results []result
	fresh, existing, rssFresh, rssExisting := measureStart(*bin, *runs, *idle)
	results = append(results,
		summarize("start to /readyz, fresh data dir", "ms", fresh, "< 1000"),
		summarize("start to /readyz, existing data dir", "ms", existing, "< 1000"),
		summarize(fmt.Sprintf("RSS after %s idle, fresh data dir", *idle), "MiB", rssFresh, "< 120"),
		summarize(fmt.Sprintf("RSS after %s idle, existing data dir", *idle), "MiB", rssExisting, "< 120"),
	)
	if fi, err := os.Stat(*bin); err == nil {
		size := float64(fi.Size()) / (1 << 20)
		results = append(results, summarize("binary size (stripped)", "MiB", []float64{size}, "none set"))
	}
	report(results, *out)
}

func measureStart(bin string, runs int, idle time.Duration) (fresh, existing, rssFresh, rssExisting []float64) {
	for i := 0; i < runs; i++ {
		dir, err := os.MkdirTemp("", "skiff-bench-")
		must(err)
		d, p := start(bin, dir)
		fresh = append(fresh, d)
		if i == 0 {
			time.Sleep(idle)
			rssFresh = append(rssFresh, rssMiB(p.Pid))
		}
		stop(p)
		d, p = start(bin, dir)
		existing = append(existing, d)
		if i == 0 {
			time.Sleep(idle)
			rssExisting = append(rssExisting, rssMiB(p.Pid))
		}
		stop(p)
		_ = os.RemoveAll(dir)
	}
	return fresh, existing, rssFresh, rssExisting
}

func start(bin, dir string) (float64, *os.Process) {
	port := freePort()
	cmd := exec.Command(bin, "server", "--data-dir", dir, "--secure-port", strconv.Itoa(port), "--disable-agent")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	begin := time.Now()
	must(cmd.Start())
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

func rssMiB(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	must(err)
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
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

func report(results []result, dir string) {
	must(os.MkdirAll(dir, 0o755))
	commit, _ := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	doc := map[string]any{
		"date": time.Now().UTC().Format(time.RFC3339), "commit": strings.TrimSpace(string(commit)),
		"cpus": numCPU(), "results": results,
	}
	data, _ := json.MarshalIndent(doc, "", "  ")
	must(os.WriteFile(filepath.Join(dir, "startup.json"), data, 0o644))
	var b strings.Builder
	fmt.Fprintf(&b, "| measurement | median | min | max | goal |\n|---|---|---|---|---|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %.1f %s | %.1f | %.1f | %s %s |\n", r.Name, r.Median, r.Unit, r.Min, r.Max, r.Goal, r.Unit)
	}
	fmt.Fprintf(&b, "\n%d CPUs, commit %s, %s\n", numCPU(), strings.TrimSpace(string(commit)), time.Now().UTC().Format("2006-01-02"))
	must(os.WriteFile(filepath.Join(dir, "startup.md"), []byte(b.String()), 0o644))
	fmt.Print(b.String())
}

func numCPU() int {
	data, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(data), "processor\t:")
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
