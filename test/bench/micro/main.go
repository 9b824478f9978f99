// Command micro runs the Go micro-benchmarks of skiff's hot paths (`go
// test -bench`, each several times) and reports their time per operation:
// a scheduling decision over 1,000 nodes, the service proxy's rules and
// syncs at 5,000 Services, and a pod's defaulting and validation. It
// prints a markdown table and writes JSON next to it; it never asserts.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/skiffhq/skiff/test/bench"
)

// suites are the packages and the benchmarks of each that are measured.
var suites = []struct{ pkg, pattern string }{
	{"./controllers/scheduler", "BenchmarkPlace1000Nodes"},
	{"./proxy", "BenchmarkBuildRules5000|BenchmarkFull5000|BenchmarkIncremental5000|BenchmarkSync5000"},
	{"./apis/core/v1", "BenchmarkDefaultAndValidatePod|BenchmarkValidateConfigMap"},
}

// descriptions name each benchmark in the results.
var descriptions = map[string]string{
	"BenchmarkPlace1000Nodes":        "scheduling decision (filter and score), 1,000 nodes with 10 pods each",
	"BenchmarkBuildRules5000":        "proxy: rules of 5,000 Services built",
	"BenchmarkFull5000":              "proxy: full sync's Go work at 5,000 Services (rules, transaction, nft text)",
	"BenchmarkIncremental5000":       "proxy: an endpoint change's Go work at 5,000 Services",
	"BenchmarkSync5000":              "proxy: a whole incremental sync in Go at 5,000 Services (informer caches to transaction)",
	"BenchmarkDefaultAndValidatePod": "a pod's defaulting and validation (two containers)",
	"BenchmarkValidateConfigMap":     "a ConfigMap's validation",
}

func main() {
	count := flag.Int("count", 5, "runs of each benchmark")
	out := flag.String("out", "test/bench/results", "directory for results")
	flag.Parse()
	bench.Interruptible()
	perOp := map[string][]float64{}
	var order []string
	for _, s := range suites {
		cmd := exec.Command("go", "test", "-run", "^$", "-bench", s.pattern, "-count", strconv.Itoa(*count), s.pkg)
		var stdout bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			bench.Must(fmt.Errorf("go test -bench %s: %w\n%s", s.pkg, err, stdout.String()))
		}
		sc := bufio.NewScanner(&stdout)
		for sc.Scan() {
			// BenchmarkName-2   	     200	    178065 ns/op
			f := strings.Fields(sc.Text())
			if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || f[3] != "ns/op" {
				continue
			}
			name, _, _ := strings.Cut(f[0], "-")
			ns, err := strconv.ParseFloat(f[2], 64)
			bench.Must(err)
			if _, seen := perOp[name]; !seen {
				order = append(order, name)
			}
			perOp[name] = append(perOp[name], ns/1000)
		}
	}
	var results []bench.Result
	for _, name := range order {
		desc := descriptions[name]
		if desc == "" {
			desc = name
		}
		results = append(results, bench.Summarize(desc+" ("+name+")", "µs", perOp[name], ""))
	}
	bench.Report(results, *out, "micro")
}
