package apiserver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"k8s.io/client-go/rest"
)

// InProcessClientConfig returns a client configuration for the clients
// that run inside the server's own process (controllers, simulated
// nodes): requests go straight into the handler chain, through the same
// authentication, authorization, admission and storage as any other
// request, but without TLS, HTTP/2 framing and the loopback socket, which
// cost as much CPU as a third of the handling itself under load.
func (s *Server) InProcessClientConfig() *rest.Config {
	cfg := rest.CopyConfig(s.loopback)
	cfg.TLSClientConfig = rest.TLSClientConfig{}
	cfg.Transport = &inProcessTransport{handler: s.generic.Handler}
	return cfg
}

// inProcessTransport is an http.RoundTripper that serves each request
// with an http.Handler in a goroutine and streams the response back
// through a pipe, so that watches work as over a connection: closing the
// response body cancels the request's context.
type inProcessTransport struct {
	handler http.Handler
}

func (t *inProcessTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	sreq := req.Clone(ctx)
	sreq.RequestURI = req.URL.RequestURI()
	sreq.Host = req.URL.Host
	sreq.RemoteAddr = "127.0.0.1:0"
	sreq.Proto, sreq.ProtoMajor, sreq.ProtoMinor = "HTTP/1.1", 1, 1
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	pipe := newBufferedPipe(pipeWindow)
	w := &pipeResponseWriter{header: http.Header{}, pipe: pipe, started: make(chan struct{}), ctx: ctx}
	go func() {
		defer cancel()
		defer func() {
			if p := recover(); p != nil {
				// As net/http does: a panicking handler (including
				// http.ErrAbortHandler on timeouts) aborts the response.
				w.start(http.StatusInternalServerError)
				pipe.closeWrite(fmt.Errorf("in-process request %s %s aborted: %v", req.Method, req.URL.Path, p))
				return
			}
			w.start(http.StatusOK)
			pipe.closeWrite(io.EOF)
		}()
		t.handler.ServeHTTP(w, sreq)
	}()
	select {
	case <-w.started:
	case <-req.Context().Done():
		_ = pipe.Close()
		cancel()
		return nil, req.Context().Err()
	}
	return &http.Response{
		Status:        strconv.Itoa(w.status) + " " + http.StatusText(w.status),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.sent,
		Body:          &pipeBody{bufferedPipe: pipe, cancel: cancel},
		ContentLength: -1,
		Request:       req,
	}, nil
}

// pipeBody is a response body whose Close ends the request, as closing a
// connection would.
type pipeBody struct {
	*bufferedPipe
	cancel context.CancelFunc
}

func (b *pipeBody) Close() error {
	b.cancel()
	return b.bufferedPipe.Close()
}

// pipeWindow is how much a response may run ahead of its reader, as
// HTTP/2's per-stream flow-control window lets it (client-go's transport
// uses 4 MiB): a watch's writer must not wait for the reader's goroutine
// to be scheduled after every event, or the API server counts the watcher
// as unresponsive and closes it.
const pipeWindow = 4 << 20

// bufferedPipe connects the handler's writes to the client's reads with
// a bounded buffer.
type bufferedPipe struct {
	mu      sync.Mutex
	cond    *sync.Cond
	buf     []byte
	limit   int
	werr    error // set when the writer is done: io.EOF or why it failed
	rclosed bool
}

func newBufferedPipe(limit int) *bufferedPipe {
	p := &bufferedPipe{limit: limit}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// Write appends to the buffer, waiting while it is full; it fails once
// the reader has closed.
func (p *bufferedPipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for len(b) > 0 {
		for len(p.buf) >= p.limit && !p.rclosed {
			p.cond.Wait()
		}
		if p.rclosed {
			return n, io.ErrClosedPipe
		}
		k := min(len(b), p.limit-len(p.buf))
		p.buf = append(p.buf, b[:k]...)
		b, n = b[k:], n+k
		p.cond.Broadcast()
	}
	return n, nil
}

// closeWrite ends the stream: readers get what is buffered, then err.
func (p *bufferedPipe) closeWrite(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.werr == nil {
		p.werr = err
	}
	p.cond.Broadcast()
}

func (p *bufferedPipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.buf) == 0 && p.werr == nil && !p.rclosed {
		p.cond.Wait()
	}
	if p.rclosed {
		return 0, io.ErrClosedPipe
	}
	if len(p.buf) == 0 {
		return 0, p.werr
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	if len(p.buf) == 0 {
		p.buf = nil // let a large drained buffer go
	}
	p.cond.Broadcast()
	return n, nil
}

// Close is the reader going away: pending and later writes fail.
func (p *bufferedPipe) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rclosed, p.buf = true, nil
	p.cond.Broadcast()
	return nil
}

// pipeResponseWriter implements http.ResponseWriter, http.Flusher and
// http.CloseNotifier (which the API server's filters expect of an HTTP/2
// connection's writer). Writes are visible to the reader at once, so
// nothing needs flushing.
type pipeResponseWriter struct {
	header http.Header
	pipe   *bufferedPipe
	ctx    context.Context

	once    sync.Once
	started chan struct{}
	status  int
	sent    http.Header
}

func (w *pipeResponseWriter) Header() http.Header { return w.header }

func (w *pipeResponseWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 {
		return // informational responses are not passed on
	}
	w.start(code)
}

func (w *pipeResponseWriter) start(code int) {
	w.once.Do(func() {
		w.status, w.sent = code, w.header.Clone()
		close(w.started)
	})
}

func (w *pipeResponseWriter) Write(p []byte) (int, error) {
	w.start(http.StatusOK)
	// After the client closed the body this fails with io.ErrClosedPipe,
	// as a write to a closed connection fails.
	return w.pipe.Write(p)
}

func (w *pipeResponseWriter) Flush() { w.start(http.StatusOK) }

// CloseNotify reports the client going away (the request's context
// ending).
func (w *pipeResponseWriter) CloseNotify() <-chan bool {
	ch := make(chan bool, 1)
	go func() {
		<-w.ctx.Done()
		ch <- true
	}()
	return ch
}
