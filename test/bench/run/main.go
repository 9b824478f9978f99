// Command run is `make bench`: it builds the benchmark programs, runs the
// chosen ones one after another (a failing one is reported and the rest
// still run), and writes test/bench/results/summary.md, every result of
// every benchmark with its goal and what others measure, for the README.
// Ctrl-C stops the running benchmark, which cleans up after itself, and
// the rest. It exits 1 when a benchmark failed.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/skiffhq/skiff/test/bench"
)

// benchmark is one program of test/bench and how make bench runs it.
type benchmark struct {
	name string
	// root: it needs root (containerd, nftables); skipped otherwise.
	root bool
	// deps: it needs hack/install-deps.sh (containerd, runc, nft).
	deps bool
	// image: it needs the test image (bin/test-image.tar).
	image bool
	args  []string
	// results are the files it writes (name.json in the results dir).
	results []string
}

var benchmarks = []benchmark{
	{name: "startup", args: []string{"-bin", "bin/skiff"}, results: []string{"startup"}},
	{name: "api", args: []string{"-bin", "bin/skiff"}, results: []string{"api"}},
	{name: "schedule", args: []string{"-bin", "bin/skiff", "-nodes", "100,1000", "-pods", "10000", "-runs", "5"},
		results: []string{"schedule-100", "schedule-1000"}},
	{name: "envtest", args: []string{"-bin", "bin/skiff"}, results: []string{"envtest"}},
	{name: "node", root: true, deps: true, args: []string{"-bin", "bin/skiff"}, results: []string{"node"}},
	{name: "podstart", root: true, deps: true, image: true, args: []string{"-bin", "bin/skiff", "-image", "bin/test-image.tar"}, results: []string{"podstart"}},
	{name: "runtimefloor", root: true, deps: true, results: []string{"runtimefloor"}},
	{name: "proxy", root: true, deps: true, results: []string{"proxy"}},
	{name: "micro", results: []string{"micro"}},
}

func main() {
	which := flag.String("bench", "all", "benchmarks to run, comma-separated, or all")
	out := flag.String("out", "test/bench/results", "directory for results")
	flag.Parse()

	var chosen []benchmark
	for _, b := range benchmarks {
		if *which == "all" || slices.Contains(strings.Split(*which, ","), b.name) {
			chosen = append(chosen, b)
		}
	}
	if len(chosen) == 0 {
		fmt.Fprintf(os.Stderr, "no benchmark named %q; there are: %s\n", *which, names())
		os.Exit(2)
	}
	// Ctrl-C reaches the running benchmark too (one process group); it
	// cleans up and exits, and no other starts.
	var mu sync.Mutex
	interrupted := false
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-signals
		mu.Lock()
		defer mu.Unlock()
		interrupted = true
		fmt.Fprintln(os.Stderr, "make bench: interrupted; waiting for the running benchmark to clean up")
		if running != nil && running.Process != nil {
			_ = running.Process.Signal(sig)
		}
	}()
	stopped := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return interrupted
	}

	if err := build(chosen); err != nil {
		fmt.Fprintf(os.Stderr, "make bench: %v\n", err)
		os.Exit(1)
	}
	type outcome struct {
		name, status string
		took         time.Duration
	}
	var outcomes []outcome
	failed := false
	for _, b := range chosen {
		if stopped() {
			outcomes = append(outcomes, outcome{b.name, "not run: interrupted", 0})
			continue
		}
		if b.root && os.Geteuid() != 0 {
			outcomes = append(outcomes, outcome{b.name, "skipped: needs root (containerd, nftables)", 0})
			continue
		}
		fmt.Fprintf(os.Stderr, "\n== %s\n", b.name)
		begin := time.Now()
		err := runOne(b, *out, func(cmd *exec.Cmd) {
			mu.Lock()
			running = cmd
			mu.Unlock()
		})
		status := "ok"
		if err != nil {
			status, failed = "FAILED: "+err.Error(), true
		}
		outcomes = append(outcomes, outcome{b.name, status, time.Since(begin).Round(time.Second)})
	}
	fmt.Fprintln(os.Stderr, "\n== make bench")
	for _, o := range outcomes {
		fmt.Fprintf(os.Stderr, "%-13s %-8s %s\n", o.name, o.took, o.status)
	}
	bench.Must(summarize(*out))
	if failed || stopped() {
		os.Exit(1)
	}
}

func names() string {
	var n []string
	for _, b := range benchmarks {
		n = append(n, b.name)
	}
	return strings.Join(n, ", ")
}

// build prepares what the chosen benchmarks need: the runtime packages
// and the test image for those that run pods, and the programs.
func build(chosen []benchmark) error {
	deps, image := false, false
	for _, b := range chosen {
		if !b.root || os.Geteuid() == 0 {
			deps, image = deps || b.deps, image || b.image
		}
	}
	steps := [][]string{}
	if deps {
		steps = append(steps, []string{"hack/install-deps.sh"})
	}
	if image {
		steps = append(steps, []string{"go", "run", "./test/images/build", "-o", "bin/test-image.tar"})
	}
	steps = append(steps, []string{"go", "build", "-o", "bin/bench/", "./test/bench/..."})
	for _, s := range steps {
		cmd := exec.Command(s[0], s[1:]...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %w", strings.Join(s, " "), err)
		}
	}
	return nil
}

// running is the benchmark being run, for passing on a signal.
var running *exec.Cmd

// runOne runs a benchmark program and says why it failed, from the end
// of what it printed; started is told of the process.
func runOne(b benchmark, out string, started func(*exec.Cmd)) error {
	var cmd *exec.Cmd
	if b.name == "micro" {
		cmd = exec.Command("bin/bench/micro", "-out", out)
	} else {
		cmd = exec.Command(filepath.Join("bin/bench", b.name), append(b.args, "-out", out)...)
	}
	var tail bytes.Buffer
	cmd.Stdout = os.Stdout
	cmd.Stderr = io.MultiWriter(os.Stderr, &lastLines{buf: &tail})
	if err := cmd.Start(); err != nil {
		return err
	}
	started(cmd)
	err := cmd.Wait()
	started(nil)
	if err == nil {
		return nil
	}
	why := strings.TrimSpace(tail.String())
	if i := strings.LastIndex(why, "\n"); i >= 0 {
		why = why[i+1:]
	}
	if why == "" {
		return err
	}
	return fmt.Errorf("%w: %s", err, why)
}

// lastLines keeps the end of what is written to it.
type lastLines struct{ buf *bytes.Buffer }

func (l *lastLines) Write(p []byte) (int, error) {
	l.buf.Write(p)
	if l.buf.Len() > 4096 {
		rest := l.buf.Bytes()[l.buf.Len()-2048:]
		l.buf.Reset()
		l.buf.Write(rest)
	}
	return len(p), nil
}

// summarize writes summary.md: every benchmark's latest results, in the
// order of benchmarks, with the date, commit and CPUs each was run on.
func summarize(dir string) error {
	var b strings.Builder
	b.WriteString("# skiff benchmarks\n\nWritten by `make bench` from the results of each benchmark (median, min and max over the runs; goals and what others measure in the last columns).\n")
	for _, bm := range benchmarks {
		for _, name := range bm.results {
			data, err := os.ReadFile(filepath.Join(dir, name+".json"))
			if os.IsNotExist(err) {
				continue
			}
			if err != nil {
				return err
			}
			var doc struct {
				Date    string         `json:"date"`
				Commit  string         `json:"commit"`
				CPUs    int            `json:"cpus"`
				Results []bench.Result `json:"results"`
			}
			if err := json.Unmarshal(data, &doc); err != nil {
				fmt.Fprintf(&b, "\n## %s\n\n(%s.json is not in the current format; run `make bench BENCH=%s` again.)\n", name, name, bm.name)
				continue
			}
			fmt.Fprintf(&b, "\n## %s\n\n%s\n%d CPUs, commit %s, %s\n", name, bench.Table(doc.Results), doc.CPUs, doc.Commit, doc.Date)
		}
	}
	fmt.Fprintf(&b, "\nThis machine: %d CPUs.\n", runtime.NumCPU())
	return os.WriteFile(filepath.Join(dir, "summary.md"), []byte(b.String()), 0o644)
}
