package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"

	"github.com/skiffhq/skiff/kubelet"
)

// fakeStreamer serves logs from files named by container ID.
type fakeStreamer struct{ dir string }

func (f fakeStreamer) LogFile(_ context.Context, _ *corev1.Pod, id string) (string, func() bool, error) {
	path := filepath.Join(f.dir, strings.TrimPrefix(id, "fake://"))
	if _, err := os.Stat(path); err != nil {
		return "", nil, &kubelet.NotFoundError{Message: "no such container " + id}
	}
	return path, func() bool { return false }, nil
}
func (fakeStreamer) Exec(context.Context, *corev1.Pod, string, []string, io.Reader, io.WriteCloser, io.WriteCloser, bool, <-chan remotecommand.TerminalSize) error {
	return nil
}
func (fakeStreamer) Attach(context.Context, *corev1.Pod, string, io.Reader, io.WriteCloser, io.WriteCloser, bool, <-chan remotecommand.TerminalSize) error {
	return nil
}
func (fakeStreamer) PortForward(context.Context, *corev1.Pod, int32, io.ReadWriteCloser) error {
	return nil
}

// tokenAuth knows users by bearer token.
type tokenAuth map[string]string

func (t tokenAuth) AuthenticateRequest(req *http.Request) (*authenticator.Response, bool, error) {
	name, ok := t[strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")]
	if !ok {
		return nil, false, nil
	}
	return &authenticator.Response{User: &user.DefaultInfo{Name: name}}, true, nil
}

// recordingAuthz allows "admin" and records what it was asked.
type recordingAuthz struct{ last authorizer.Attributes }

func (r *recordingAuthz) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	r.last = a
	if a.GetUser().GetName() == "admin" {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "not allowed", nil
}

func testPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "u1"},
		Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "app"}, {Name: "waiting"}, {Name: "crashing"}}},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
			{Name: "app", ContainerID: "fake://app-0", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
			{Name: "waiting", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}},
			{Name: "crashing", ContainerID: "fake://crashing-1", RestartCount: 1,
				State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ContainerID: "fake://crashing-1", ExitCode: 1}}},
		}},
	}
}

func TestServer(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"app-0":      "2026-11-27T03:00:00Z stdout F one\n2026-11-27T03:00:01Z stderr F two\n2026-11-27T03:00:02Z stdout F three\n",
		"crashing-1": "2026-11-27T03:00:00Z stdout F crashed\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	authz := &recordingAuthz{}
	srv, err := New(Config{
		NodeName: "n1",
		Pod: func(ns, name string) (*corev1.Pod, error) {
			if ns == "default" && name == "web" {
				return testPod(), nil
			}
			return nil, apierrors.NewNotFound(corev1.Resource("pods"), name)
		},
		Streamer:      fakeStreamer{dir},
		Authenticator: tokenAuth{"t-admin": "admin", "t-bob": "bob"},
		Authorizer:    authorizer.AuthorizerFunc(authz.Authorize),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	get := func(token, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	cases := []struct {
		name, token, path string
		code              int
		body              string
	}{
		{"anonymous", "", "/containerLogs/default/web/app", http.StatusUnauthorized, "Unauthorized\n"},
		{"forbidden", "t-bob", "/containerLogs/default/web/app", http.StatusForbidden, "Forbidden (user=bob, verb=get, resource=nodes, subresource=proxy): not allowed\n"},
		{"all", "t-admin", "/containerLogs/default/web/app", http.StatusOK, "one\ntwo\nthree\n"},
		{"tail and timestamps", "t-admin", "/containerLogs/default/web/app?tailLines=1&timestamps=true", http.StatusOK, "2026-11-27T03:00:02Z three\n"},
		{"stderr", "t-admin", "/containerLogs/default/web/app?stream=Stderr", http.StatusOK, "two\n"},
		{"limit", "t-admin", "/containerLogs/default/web/app?limitBytes=5", http.StatusOK, "one\nt"},
		{"since", "t-admin", "/containerLogs/default/web/app?sinceTime=2026-11-27T03:00:01Z", http.StatusOK, "two\nthree\n"},
		{"crash loop shows the last exit", "t-admin", "/containerLogs/default/web/crashing", http.StatusOK, "crashed\n"},
		{"previous of a crash loop", "t-admin", "/containerLogs/default/web/crashing?previous=true", http.StatusOK, "crashed\n"},
		{"no previous", "t-admin", "/containerLogs/default/web/app?previous=true", http.StatusBadRequest, "previous terminated container \"app\" in pod \"web\" not found\n"},
		{"waiting", "t-admin", "/containerLogs/default/web/waiting", http.StatusBadRequest, "container \"waiting\" in pod \"web\" is waiting to start: ContainerCreating\n"},
		{"unknown container", "t-admin", "/containerLogs/default/web/nope", http.StatusBadRequest, "container nope is not valid for pod web\n"},
		{"unknown pod", "t-admin", "/containerLogs/default/nope/app", http.StatusNotFound, "pod default/nope does not exist on node n1\n"},
		{"bad query", "t-admin", "/containerLogs/default/web/app?tailLines=x", http.StatusBadRequest, ""},
		{"healthz", "t-admin", "/healthz", http.StatusOK, "ok"},
	}
	for _, c := range cases {
		code, body := get(c.token, c.path)
		if code != c.code || (c.body != "" && body != c.body) {
			t.Errorf("%s: %d %q, want %d %q", c.name, code, body, c.code, c.body)
		}
	}
	// Exec needs create on nodes/proxy, whatever the method.
	get("t-bob", "/exec/default/web/app?command=ls&output=1")
	if a := authz.last; a.GetVerb() != "create" || a.GetResource() != "nodes" || a.GetSubresource() != "proxy" || a.GetName() != "n1" {
		t.Fatalf("exec authorized as %s %s/%s %s", a.GetVerb(), a.GetResource(), a.GetSubresource(), a.GetName())
	}
	get("t-bob", "/stats/summary")
	if a := authz.last; a.GetVerb() != "get" || a.GetSubresource() != "stats" {
		t.Fatalf("stats authorized as %s nodes/%s", a.GetVerb(), a.GetSubresource())
	}
}
