package integration

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/test/testserver"
)

// TestRestartKeepsState checks that objects, uids, resourceVersions and
// certificates survive a clean restart and a SIGKILL.
func TestRestartKeepsState(t *testing.T) {
	srv := testserver.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	created, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "keep"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	caBefore, err := os.ReadFile(filepath.Join(srv.DataDir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"ca.key", "apiserver.key", "admin.key"} {
		fi, err := os.Stat(filepath.Join(srv.DataDir, "pki", key))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %o, want 600", key, fi.Mode().Perm())
		}
	}

	srv.Restart(t)
	c = srv.Client(t)
	got, err := c.CoreV1().ConfigMaps("default").Get(ctx, "keep", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.UID != created.UID || got.ResourceVersion != created.ResourceVersion || got.Data["k"] != "v" {
		t.Errorf("after restart: uid %s rv %s data %v; before: uid %s rv %s", got.UID, got.ResourceVersion, got.Data, created.UID, created.ResourceVersion)
	}
	caAfter, _ := os.ReadFile(filepath.Join(srv.DataDir, "pki", "ca.crt"))
	if string(caAfter) != string(caBefore) {
		t.Error("the CA changed across a restart")
	}

	// Every acknowledged write survives SIGKILL.
	var names []string
	for i := 0; i < 20; i++ {
		name := fmt.Sprintf("ack-%d", i)
		if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	srv.KillAndRestart(t)
	c = srv.Client(t)
	for _, name := range names {
		if _, err := c.CoreV1().ConfigMaps("default").Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("%s lost after SIGKILL: %v", name, err)
		}
	}
}

// TestAnonymousAccess checks that only health and version endpoints are
// open without credentials.
func TestAnonymousAccess(t *testing.T) {
	srv := testserver.Start(t)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	base := fmt.Sprintf("https://127.0.0.1:%d", srv.Port)
	for path, want := range map[string]int{
		"/healthz": 200, "/livez": 200, "/readyz": 200, "/version": 200, "/readyz/etcd": 200,
		"/api": 401, "/api/v1/namespaces": 401, "/apis": 401, "/metrics": 401, "/openapi/v2": 401, "/debug/pprof/": 401,
	} {
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d (%s)", path, resp.StatusCode, want, body)
		}
		if path == "/version" && !strings.Contains(string(body), `"minor": "37"`) {
			t.Errorf("/version: %s", body)
		}
	}
	// The admin can read /metrics.
	rc := srv.Client(t).CoreV1().RESTClient()
	body, err := rc.Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil || !strings.Contains(string(body), "apiserver_request_total") {
		t.Errorf("/metrics as admin: %v", err)
	}
	// And profiles (--profiling, on by default as kube-apiserver's).
	body, err = rc.Get().AbsPath("/debug/pprof/").DoRaw(context.Background())
	if err != nil || !strings.Contains(string(body), "goroutine") {
		t.Errorf("/debug/pprof/ as admin: %v %.200s", err, body)
	}
	off := testserver.Start(t, "--profiling=false")
	if _, err := off.Client(t).CoreV1().RESTClient().Get().AbsPath("/debug/pprof/").DoRaw(context.Background()); !apierrors.IsNotFound(err) {
		t.Errorf("/debug/pprof/ with --profiling=false: %v, want 404", err)
	}
}

// TestMissingRuntimeNamesTheWayOut: with the default containerd runtime
// and no containerd to be found, `skiff server` stops at once and names
// the flags that run it without one.
func TestMissingRuntimeNamesTheWayOut(t *testing.T) {
	bin, err := testserver.Binary()
	if err != nil {
		t.Fatal(err)
	}
	port, err := testserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "server", "--data-dir", t.TempDir(), "--secure-port", fmt.Sprint(port))
	cmd.Env = []string{"PATH=" + t.TempDir(), "HOME=" + t.TempDir()} // no containerd on PATH
	out, err := runWithDeadline(t, cmd, 30*time.Second)
	if err == nil {
		t.Fatalf("skiff server succeeded without a container runtime:\n%s", out)
	}
	for _, want := range []string{"--runtime sim", "--disable-agent"} {
		if !strings.Contains(out, want) {
			t.Errorf("the error does not name %s:\n%s", want, out)
		}
	}
}

// runWithDeadline runs a command that should stop by itself, failing the
// test (and killing it by PID) if it is still running after timeout; it
// returns the combined output and the exit error.
func runWithDeadline(t *testing.T, cmd *exec.Cmd, timeout time.Duration) (string, error) {
	t.Helper()
	done := make(chan struct{})
	var out []byte
	var err error
	go func() {
		out, err = cmd.CombinedOutput()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s kept running for %s:\n%s", strings.Join(cmd.Args, " "), timeout, out)
	}
	return string(out), err
}
