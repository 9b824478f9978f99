// Package bench holds skiff's benchmarks: programs that measure and
// report, never tests that assert on time. `make bench` runs them.
package bench
