package apiserver

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestInProcessTransport(t *testing.T) {
	handlerDone := make(chan error, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Echo", r.Header.Get("X-In"))
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.RequestURI(), body)
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		// A watch: writes events until the client goes away.
		big := bytes.Repeat([]byte("x"), 64<<10)
		for i := 0; ; i++ {
			if _, err := w.Write(big); err != nil {
				handlerDone <- r.Context().Err()
				return
			}
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("partial"))
		panic(http.ErrAbortHandler)
	})
	client := &http.Client{Transport: &inProcessTransport{handler: mux}}

	req, _ := http.NewRequest(http.MethodPost, "https://in-process/plain?a=b", strings.NewReader("hello"))
	req.Header.Set("X-In", "v")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated || resp.Header.Get("X-Echo") != "v" || string(body) != "POST /plain?a=b hello" {
		t.Fatalf("plain: status %d, header %q, body %q, err %v", resp.StatusCode, resp.Header.Get("X-Echo"), body, err)
	}

	resp, err = client.Get("https://in-process/stream")
	if err != nil {
		t.Fatal(err)
	}
	// The writer runs ahead of the reader up to the window, no further.
	if _, err := io.ReadFull(resp.Body, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	pipe := resp.Body.(*pipeBody).bufferedPipe
	deadline := time.Now().Add(5 * time.Second)
	for {
		pipe.mu.Lock()
		n := len(pipe.buf)
		pipe.mu.Unlock()
		if n >= pipeWindow-64<<10 {
			if n > pipeWindow {
				t.Fatalf("buffered %d bytes, more than the %d window", n, pipeWindow)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("writer stopped at %d buffered bytes", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp.Body.Close()
	select {
	case err := <-handlerDone:
		if err == nil {
			t.Fatal("closing the body did not cancel the handler's context")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the streaming handler did not stop after the body was closed")
	}

	resp, err = client.Get("https://in-process/panic")
	if err != nil {
		t.Fatal(err)
	}
	body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "partial" || err == nil || !strings.Contains(err.Error(), "aborted") {
		t.Fatalf("aborted handler: body %q, err %v", body, err)
	}
}
