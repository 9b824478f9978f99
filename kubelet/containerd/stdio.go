package containerd

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/containerd/containerd/v2/pkg/cio"

	"github.com/skiffhq/skiff/kubelet/logs"
)

// containerIO owns one container instance's stdio: FIFOs the shim writes
// the process's output to, which skiff copies into the instance's CRI log
// file and to the clients attached (`kubectl attach`), and, for
// containers with stdin, the FIFO the attached clients write to. The
// FIFOs live in the pod's state dir, so a restarted skiff opens them
// again and goes on where it left off.
type containerIO struct {
	dio       *cio.DirectIO
	stdinOnce bool
	done      chan struct{} // closed when the output streams ended

	mu         sync.Mutex
	subs       map[*subscriber]struct{}
	stdinTaken bool // a stdinOnce container's stdin was used
}

type subscriber struct {
	stdout, stderr io.Writer
}

// ioPaths are an instance's FIFOs and log file.
type ioPaths struct {
	dir     string
	attempt int32
}

func (p ioPaths) path(suffix string) string {
	return filepath.Join(p.dir, strconv.Itoa(int(p.attempt))+suffix)
}
func (p ioPaths) log() string { return p.path(".log") }

func (p ioPaths) fifos(stdin, tty bool) *cio.FIFOSet {
	cfg := cio.Config{Stdout: p.path(".stdout"), Terminal: tty}
	if !tty {
		cfg.Stderr = p.path(".stderr")
	}
	if stdin {
		cfg.Stdin = p.path(".stdin")
	}
	// The FIFOs stay until the pod's state dir goes.
	return cio.NewFIFOSet(cfg, nil)
}

// openIO opens (creating when new) an instance's FIFOs and starts copying
// its output into its log.
func openIO(ctx context.Context, fifos *cio.FIFOSet, logPath string, stdinOnce bool) (*containerIO, error) {
	f, err := logs.OpenRotatingFile(logPath, logs.DefaultMaxSize, logs.DefaultMaxFiles)
	if err != nil {
		return nil, err
	}
	dio, err := cio.NewDirectIO(context.WithoutCancel(ctx), fifos)
	if err != nil {
		f.Close()
		return nil, err
	}
	c := &containerIO{dio: dio, stdinOnce: stdinOnce, done: make(chan struct{}), subs: map[*subscriber]struct{}{}}
	w := logs.NewWriter(f, nil)
	var wg sync.WaitGroup
	pump := func(src io.Reader, stream string) {
		defer wg.Done()
		lw := w.Stream(stream)
		buf := make([]byte, 32*1024)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				_, _ = lw.Write(buf[:n])
				c.broadcast(stream, buf[:n])
			}
			if err != nil {
				_ = lw.Close()
				return
			}
		}
	}
	if dio.Stdout != nil {
		wg.Add(1)
		go pump(dio.Stdout, logs.Stdout)
	}
	if dio.Stderr != nil {
		wg.Add(1)
		go pump(dio.Stderr, logs.Stderr)
	}
	go func() {
		wg.Wait()
		f.Close()
		close(c.done)
	}()
	return c, nil
}

func (c *containerIO) broadcast(stream string, p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for s := range c.subs {
		w := s.stdout
		if stream == logs.Stderr {
			w = s.stderr
		}
		if w == nil {
			continue
		}
		if _, err := w.Write(p); err != nil {
			// A client that went away stops receiving.
			delete(c.subs, s)
		}
	}
}

// running reports whether the output streams are still open.
func (c *containerIO) running() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// errStdinUsed is an attach to a stdinOnce container's stdin after its
// first client.
var errStdinUsed = errors.New("the container's stdin was already used once (stdinOnce)")

// attach copies the container's output to stdout/stderr and stdin into
// the container until the container ends or ctx does. A stdinOnce
// container's input ends with the client's (closeStdin).
func (c *containerIO) attach(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, closeStdin func()) error {
	if stdin != nil && c.dio.Stdin != nil {
		c.mu.Lock()
		if c.stdinOnce && c.stdinTaken {
			c.mu.Unlock()
			return errStdinUsed
		}
		c.stdinTaken = true
		c.mu.Unlock()
	}
	s := &subscriber{stdout: stdout, stderr: stderr}
	c.mu.Lock()
	c.subs[s] = struct{}{}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.subs, s)
		c.mu.Unlock()
	}()
	if stdin != nil && c.dio.Stdin != nil {
		go func() {
			_, _ = io.Copy(c.dio.Stdin, stdin)
			if c.stdinOnce {
				// The container sees the end of its input.
				_ = c.dio.Stdin.Close()
				closeStdin()
			}
		}()
	}
	select {
	case <-c.done:
	case <-ctx.Done():
	}
	return nil
}

// close stops copying; the FIFOs stay for a later openIO.
func (c *containerIO) close() {
	_ = c.dio.Close()
}
