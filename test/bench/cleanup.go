package bench

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// cleanups are what the running benchmark has set up and not yet undone,
// in the order it did (each undone at most once).
var (
	cleanupMu sync.Mutex
	cleanups  []*cleanup
)

type cleanup struct {
	once sync.Once
	f    func()
}

// Cleanup registers f, which undoes something the benchmark set up (a
// server, a temporary directory, an nftables table), and returns a
// function that runs it now. Whatever has not run when the benchmark
// ends (Exit: an error in Must, or Ctrl-C) runs then, last first.
func Cleanup(f func()) (undo func()) {
	c := &cleanup{f: f}
	cleanupMu.Lock()
	cleanups = append(cleanups, c)
	cleanupMu.Unlock()
	return func() {
		c.once.Do(c.f)
		cleanupMu.Lock()
		defer cleanupMu.Unlock()
		for i, x := range cleanups {
			if x == c {
				cleanups = append(cleanups[:i], cleanups[i+1:]...)
				break
			}
		}
	}
}

// Exit undoes what is left to undo, last first, and exits with code.
func Exit(code int) {
	cleanupMu.Lock()
	pending := cleanups
	cleanups = nil
	cleanupMu.Unlock()
	for i := len(pending) - 1; i >= 0; i-- {
		pending[i].once.Do(pending[i].f)
	}
	os.Exit(code)
}

// Interruptible returns a context that ends on SIGINT or SIGTERM, after
// which the benchmark cleans up and exits (status 130).
func Interruptible() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-signals
		fmt.Fprintf(os.Stderr, "benchmark interrupted (%v): cleaning up\n", sig)
		cancel()
		Exit(130)
	}()
	return ctx
}
