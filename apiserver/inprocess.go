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
	pr, pw := io.Pipe()
	w := &pipeResponseWriter{header: http.Header{}, pipe: pw, started: make(chan struct{}), ctx: ctx}
	go func() {
		defer cancel()
		defer func() {
			if p := recover(); p != nil {
				// As net/http does: a panicking handler (including
				// http.ErrAbortHandler on timeouts) aborts the response.
				w.start(http.StatusInternalServerError)
				_ = pw.CloseWithError(fmt.Errorf("in-process request %s %s aborted: %v", req.Method, req.URL.Path, p))
				return
			}
			w.start(http.StatusOK)
			_ = pw.Close()
		}()
		t.handler.ServeHTTP(w, sreq)
	}()
	select {
	case <-w.started:
	case <-req.Context().Done():
		_ = pr.CloseWithError(req.Context().Err())
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
		Body:          &pipeBody{PipeReader: pr, cancel: cancel},
		ContentLength: -1,
		Request:       req,
	}, nil
}

// pipeBody is a response body whose Close ends the request, as closing a
// connection would.
type pipeBody struct {
	*io.PipeReader
	cancel context.CancelFunc
}

func (b *pipeBody) Close() error {
	b.cancel()
	return b.PipeReader.Close()
}

// pipeResponseWriter implements http.ResponseWriter, http.Flusher and
// http.CloseNotifier (which the API server's filters expect of an HTTP/2
// connection's writer). Writes block until the client reads them, so
// nothing needs flushing.
type pipeResponseWriter struct {
	header http.Header
	pipe   *io.PipeWriter
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
