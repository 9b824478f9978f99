package bench

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Result is one measurement over several runs.
type Result struct {
	Name   string    `json:"name"`
	Unit   string    `json:"unit"`
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Runs   []float64 `json:"runs"`
	Goal   string    `json:"goal,omitempty"`
	// Anchor is what others measure for the same thing, for comparison.
	Anchor string `json:"anchor,omitempty"`
}

// WithAnchor is r with what others measure for the same thing.
func (r Result) WithAnchor(anchor string) Result {
	r.Anchor = anchor
	return r
}

// Summarize makes a Result of the runs' values.
func Summarize(name, unit string, runs []float64, goal string) Result {
	s := append([]float64(nil), runs...)
	sort.Float64s(s)
	return Result{Name: name, Unit: unit, Median: s[len(s)/2], Min: s[0], Max: s[len(s)-1], Runs: runs, Goal: goal}
}

// Report prints the results as a markdown table and writes it, and JSON
// with the date, commit and CPU count, to dir/name.{md,json}.
func Report(results []Result, dir, name string) {
	Must(os.MkdirAll(dir, 0o755))
	out, _ := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	commit := strings.TrimSpace(string(out))
	doc := map[string]any{"date": time.Now().UTC().Format(time.RFC3339), "commit": commit, "cpus": runtime.NumCPU(), "results": results}
	data, _ := json.MarshalIndent(doc, "", "  ")
	Must(os.WriteFile(filepath.Join(dir, name+".json"), data, 0o644))
	var b strings.Builder
	b.WriteString(Table(results))
	fmt.Fprintf(&b, "\n%d CPUs, commit %s, %s\n", runtime.NumCPU(), commit, time.Now().UTC().Format("2006-01-02"))
	Must(os.WriteFile(filepath.Join(dir, name+".md"), []byte(b.String()), 0o644))
	fmt.Print(b.String())
}

// Table is results as a markdown table.
func Table(results []Result) string {
	var b strings.Builder
	b.WriteString("| measurement | median | min | max | runs | goal | others |\n|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %.1f %s | %.1f | %.1f | %d | %s | %s |\n", r.Name, r.Median, r.Unit, r.Min, r.Max, len(r.Runs), r.Goal, r.Anchor)
	}
	return b.String()
}

// Memory reads a process's resident and peak resident set in MiB.
func Memory(pid int) (rss, peak float64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	Must(err)
	for _, line := range strings.Split(string(data), "\n") {
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

// CPUSeconds reads the user plus system CPU time a process has used, in
// seconds (/proc/PID/stat, in clock ticks of 1/100 s as on Linux).
func CPUSeconds(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	Must(err)
	// The command name may hold spaces; fields count from after its ')'.
	rest := string(data)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		Must(fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)))
	}
	utime, err := strconv.ParseFloat(f[11], 64)
	Must(err)
	stime, err := strconv.ParseFloat(f[12], 64)
	Must(err)
	return (utime + stime) / 100
}

// FreePort is a TCP port free on loopback.
func FreePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Must(err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Must ends the benchmark on an error: it says why, undoes what the
// benchmark set up (Cleanup) and exits with status 1.
func Must(err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchmark failed: %v\n", err)
		Exit(1)
	}
}
