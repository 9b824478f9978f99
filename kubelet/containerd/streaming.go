package containerd

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	containerdcio "github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/skiffhq/skiff/kubelet"
	"github.com/skiffhq/skiff/kubelet/network"
)

var _ kubelet.Streamer = (*Runtime)(nil)

// instance is one container instance of a pod.
type instance struct {
	c       containerd.Container
	attempt int32
}

// instances lists a container's instances of the pod, latest first.
func (r *Runtime) instances(ctx context.Context, pod *corev1.Pod, name string) ([]instance, error) {
	list, err := r.podContainers(ctx, pod.UID)
	if err != nil {
		return nil, err
	}
	var out []instance
	for _, c := range list {
		info, err := c.Info(ctx, containerd.WithoutRefreshedMetadata)
		if err != nil || info.Labels[labelContainer] != name || info.Labels[labelStartedAt] == "" {
			continue
		}
		a, err := strconv.Atoi(info.Labels[labelAttempt])
		if err != nil {
			continue
		}
		out = append(out, instance{c: c, attempt: int32(a)})
	}
	slices.SortStableFunc(out, func(a, b instance) int { return cmp.Compare(b.attempt, a.attempt) })
	return out, nil
}

// LogFile implements kubelet.Streamer.
func (r *Runtime) LogFile(ctx context.Context, pod *corev1.Pod, containerID string) (string, func() bool, error) {
	ctx = r.ns(ctx)
	id := strings.TrimPrefix(containerID, "containerd://")
	notFound := &kubelet.NotFoundError{Message: fmt.Sprintf("container %s of pod %q not found", containerID, pod.Name)}
	c, err := r.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return "", nil, notFound
	} else if err != nil {
		return "", nil, err
	}
	labels, err := c.Labels(ctx)
	if err != nil {
		return "", nil, err
	}
	if labels[labelPodUID] != string(pod.UID) {
		return "", nil, notFound
	}
	paths := r.ioPaths(pod.UID, labels[labelContainer], labels[labelAttempt])
	r.mu.Lock()
	cio := r.ios[id]
	r.mu.Unlock()
	running := func() bool { return false }
	if cio != nil {
		running = cio.running
	}
	return paths.log(), running, nil
}

func (r *Runtime) containerDir(pod *corev1.Pod, name string) string {
	return r.ioPaths(pod.UID, name, "0").dir
}

// runningInstance is the container's current instance when it runs.
func (r *Runtime) runningInstance(ctx context.Context, pod *corev1.Pod, name string) (containerd.Container, containerd.Task, error) {
	list, err := r.instances(ctx, pod, name)
	if err != nil {
		return nil, nil, err
	}
	if len(list) > 0 {
		task, err := list[0].c.Task(ctx, nil)
		if err == nil {
			if st, err := task.Status(ctx); err == nil && st.Status == containerd.Running {
				return list[0].c, task, nil
			}
		}
	}
	return nil, nil, &kubelet.NotFoundError{Message: fmt.Sprintf("container %q in pod %q is not running", name, pod.Name)}
}

// Exec implements kubelet.Streamer: the command runs in the container's
// namespaces and cgroup with its user, environment and working dir.
func (r *Runtime) Exec(ctx context.Context, pod *corev1.Pod, name string, cmd []string, stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	ctx = r.ns(ctx)
	c, task, err := r.runningInstance(ctx, pod, name)
	if err != nil {
		return err
	}
	spec, err := c.Spec(ctx)
	if err != nil {
		return fmt.Errorf("reading the container's spec: %w", err)
	}
	pspec := *spec.Process
	pspec.Args = cmd
	pspec.Terminal = tty
	// The shim keeps a process's stdin open for clients to come: the end
	// of the client's input is passed on by closing it there (CloseIO).
	stdinDone := make(chan struct{})
	in := stdin
	if in != nil {
		in = &eofReader{r: in, eof: stdinDone}
	}
	errw := writerOrDiscard(stderr)
	if tty {
		errw = nil // a terminal has one output
	}
	opts := []containerdcio.Opt{containerdcio.WithStreams(in, writerOrDiscard(stdout), errw), containerdcio.WithFIFODir(r.fifoDir())}
	if tty {
		opts = append(opts, containerdcio.WithTerminal)
	}
	id := "exec-" + randomID()
	// The process outlives a cancelled request only until it is killed.
	pctx := context.WithoutCancel(ctx)
	proc, err := task.Exec(pctx, id, &pspec, containerdcio.NewCreator(opts...))
	if err != nil {
		return fmt.Errorf("creating the exec process: %w", err)
	}
	defer func() { _, _ = proc.Delete(pctx, containerd.WithProcessKill) }()
	exited, err := proc.Wait(pctx)
	if err != nil {
		return err
	}
	if err := proc.Start(pctx); err != nil {
		return fmt.Errorf("starting %q: %w", cmd[0], err)
	}
	if tty && resize != nil {
		go func() {
			for size := range resize {
				_ = proc.Resize(pctx, uint32(size.Width), uint32(size.Height))
			}
		}()
	}
	if in != nil {
		go func() {
			select {
			case <-stdinDone:
				_ = proc.CloseIO(pctx, containerd.WithStdinCloser)
			case <-exited:
			}
		}()
	}
	select {
	case st := <-exited:
		proc.IO().Wait()
		if code := st.ExitCode(); code != 0 {
			return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: int(code)}
		}
		return nil
	case <-ctx.Done():
		_ = proc.Kill(pctx, syscall.SIGKILL)
		<-exited
		return ctx.Err()
	}
}

func (r *Runtime) fifoDir() string { return r.cfg.StateDir + "/fifo" }

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// eofReader closes eof when its reader ends.
type eofReader struct {
	r    io.Reader
	eof  chan struct{}
	once sync.Once
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil {
		e.once.Do(func() { close(e.eof) })
	}
	return n, err
}

// writerOrDiscard gives the shim somewhere to write a stream the client
// did not ask for: containerd 1.6's shim cannot run a process without
// stdout or (outside a terminal) stderr.
func writerOrDiscard(w io.WriteCloser) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// Attach implements kubelet.Streamer.
func (r *Runtime) Attach(ctx context.Context, pod *corev1.Pod, name string, stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	ctx = r.ns(ctx)
	c, task, err := r.runningInstance(ctx, pod, name)
	if err != nil {
		return err
	}
	r.mu.Lock()
	cio := r.ios[c.ID()]
	r.mu.Unlock()
	if cio == nil {
		return &kubelet.NotFoundError{Message: fmt.Sprintf("container %q in pod %q has no attachable stdio (started by an older skiff)", name, pod.Name)}
	}
	if tty && resize != nil {
		go func() {
			for size := range resize {
				_ = task.Resize(ctx, uint32(size.Width), uint32(size.Height))
			}
		}()
	}
	var out, errw io.Writer
	if stdout != nil {
		out = stdout
	}
	if stderr != nil {
		errw = stderr
	}
	closeStdin := func() { _ = task.CloseIO(context.WithoutCancel(ctx), containerd.WithStdinCloser) }
	if err := cio.attach(ctx, stdin, out, errw, closeStdin); err != nil {
		if errors.Is(err, errStdinUsed) {
			return &kubelet.NotFoundError{Message: err.Error()}
		}
		return err
	}
	return nil
}

// PortForward implements kubelet.Streamer: a connection to the port on
// the pod's loopback, made inside the pod's network namespace.
func (r *Runtime) PortForward(ctx context.Context, pod *corev1.Pod, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	var conn net.Conn
	var err error
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port)))
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if pod.Spec.HostNetwork {
		var d net.Dialer
		conn, err = d.DialContext(dctx, "tcp", addr)
	} else {
		conn, err = network.DialInNetNS(dctx, r.netnsPath(pod.UID), "tcp", addr)
	}
	if err != nil {
		if errdefs.IsNotFound(err) {
			return &kubelet.NotFoundError{Message: fmt.Sprintf("pod %q has no network namespace", pod.Name)}
		}
		return fmt.Errorf("failed to connect to localhost:%d inside namespace of pod %q: %w", port, pod.Name, err)
	}
	defer conn.Close()
	// Done when the pod's side is: a client that stops writing may still
	// be reading the answer.
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(conn, stream)
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	go func() {
		_, _ = io.Copy(stream, conn)
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return nil
}

// StopContainer implements kubelet.Runtime.
func (r *Runtime) StopContainer(ctx context.Context, pod *corev1.Pod, name string, grace time.Duration) error {
	ctx = r.ns(ctx)
	c, _, err := r.runningInstance(ctx, pod, name)
	var nf *kubelet.NotFoundError
	if errors.As(err, &nf) {
		return nil // not running: nothing to stop
	} else if err != nil {
		return err
	}
	return stopTask(ctx, c, grace)
}
