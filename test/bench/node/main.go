// Command node measures `skiff server` with this machine as its node on
// containerd: the time from process start to the node Ready, from a
// fresh data dir, and the resident memory of the server (control plane
// and in-process agent, one node, no pods) and of its containerd after an
// idle period. Needs root and the runtime packages (hack/install-deps.sh).
// It prints a markdown table and writes JSON next to it; it never
// asserts.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/skiffhq/skiff/test/bench"
)

func main() {
	bin := flag.String("bin", "bin/skiff", "skiff binary to measure")
	image := flag.String("image", "", "an image tarball for the node to import at start, as make run does (none when empty)")
	runs := flag.Int("runs", 5, "runs")
	idle := flag.Duration("idle", time.Minute, "idle time before reading RSS")
	out := flag.String("out", "test/bench/results", "directory for results")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "node: needs root (containerd)")
		os.Exit(1)
	}
	ctx := bench.Interruptible()
	var ready, rss, containerd []float64
	for range *runs {
		dir, removeDir := bench.TempDir("skiff-bench-node-")
		if *image != "" {
			data, err := os.ReadFile(*image)
			bench.Must(err)
			bench.Must(os.MkdirAll(filepath.Join(dir, "images"), 0o700))
			bench.Must(os.WriteFile(filepath.Join(dir, "images", "image.tar"), data, 0o600))
		}
		startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		begin := time.Now()
		srv := bench.StartNodeServer(startCtx, *bin, dir)
		ready = append(ready, float64(time.Since(begin).Microseconds())/1000)
		cancel()
		time.Sleep(*idle)
		r, _ := bench.Memory(srv.Cmd.Process.Pid)
		rss = append(rss, r)
		containerd = append(containerd, childRSS(srv.Cmd.Process.Pid, "containerd"))
		srv.Stop()
		removeDir()
	}
	idleLabel := fmt.Sprintf("after %s idle, one node on containerd, no pods", *idle)
	bench.Report([]bench.Result{
		bench.Summarize("start to the node Ready, fresh data dir, containerd", "ms", ready, "").
			WithAnchor("k3s: tens of seconds"),
		bench.Summarize("server RSS (control plane and agent) "+idleLabel, "MiB", rss, "< 150").
			WithAnchor("k3s: 512 MB with SQLite; k0s: 510 MB"),
		bench.Summarize("its containerd's RSS "+idleLabel, "MiB", containerd, ""),
	}, *out, "node")
}

// childRSS is the RSS in MiB of the child of pid whose command is name
// (0 when there is none).
func childRSS(pid int, name string) float64 {
	entries, err := os.ReadDir("/proc")
	bench.Must(err)
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …
		s := string(stat)
		end := strings.LastIndexByte(s, ')')
		if end < 0 || !strings.Contains(s[:end], "("+name) {
			continue
		}
		fields := strings.Fields(s[end+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			r, _ := bench.Memory(child)
			return r
		}
	}
	return 0
}
