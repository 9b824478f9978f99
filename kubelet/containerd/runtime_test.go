package containerd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilexec "k8s.io/utils/exec"

	"github.com/skiffhq/skiff/kubelet"
	"github.com/skiffhq/skiff/kubelet/logs"
	"github.com/skiffhq/skiff/kubelet/network"
	"github.com/skiffhq/skiff/test/images"
	"github.com/skiffhq/skiff/test/testserver"
)

func TestRuntimeRunsAPod(t *testing.T) {
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("busybox-static is not installed (hack/install-deps.sh)")
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		t.Skip("the CNI plugins are not installed (hack/install-deps.sh)")
	}
	s := startContainerd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, _ := importTestImage(ctx, t, s)
	c.Close()

	// The portmap plugin makes shared nat chains on first use; remove
	// them afterwards if this test made them.
	if err := exec.Command("iptables", "-t", "nat", "-S", "CNI-HOSTPORT-DNAT").Run(); err != nil {
		t.Cleanup(removePortmapChains)
	}
	bridge := fmt.Sprintf("skr%d", os.Getpid()%100000)
	t.Cleanup(func() { _ = network.RemoveNode(context.Background(), bridge) })
	state := t.TempDir()
	// The runtime lives until the test's cleanups (which remove the pod
	// through it) have run; they run before containerd stops.
	rtCtx, rtCancel := context.WithCancel(context.Background())
	rt, err := New(rtCtx, Config{Address: s.Address(), StateDir: state, Bridge: bridge})
	if err != nil {
		rtCancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rtCancel()
		rt.Close()
	})
	if v, err := rt.Version(ctx); err != nil || len(v) < len("containerd://1") {
		t.Fatalf("version %q, %v", v, err)
	}

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: types.UID("0c6a3a4e-1111-4d6e-9c1e-3f1b8e2a7d01")},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "httpd", Image: images.Name, ImagePullPolicy: corev1.PullIfNotPresent, Command: []string{"httpd", "-f", "-p", "8080", "-h", "/var/www"},
				Ports: []corev1.ContainerPort{{ContainerPort: 8080, HostPort: 28081, Protocol: corev1.ProtocolTCP}}},
			{Name: "quits", Image: images.Name, ImagePullPolicy: corev1.PullNever, Command: []string{"sh", "-c", "exit 3"}},
			{Name: "hog", Image: images.Name, ImagePullPolicy: corev1.PullNever, Command: []string{"tail", "/dev/zero"},
				Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("20Mi")}}},
			{Name: "user", Image: images.Name, ImagePullPolicy: corev1.PullNever, Command: []string{"sh", "-c", "id -u; id -g; touch /x 2>/dev/null || echo read-only"},
				SecurityContext: &corev1.SecurityContext{RunAsUser: new(int64(1000)), RunAsGroup: new(int64(2000)), ReadOnlyRootFilesystem: new(true)}},
			{Name: "echoer", Image: images.Name, ImagePullPolicy: corev1.PullNever, Command: []string{"cat"}, Stdin: true},
			{Name: "confined", Image: images.Name, ImagePullPolicy: corev1.PullNever, Command: []string{"sh", "-c", "grep Seccomp: /proc/self/status"},
				SecurityContext: &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}},
		}},
	}
	removed := false
	t.Cleanup(func() {
		if !removed {
			_ = rt.RemovePod(context.Background(), pod.UID)
		}
	})
	ips, err := rt.StartSandbox(ctx, pod, "10.251.9.0/24")
	if err != nil {
		t.Fatal(err)
	}
	again, err := rt.StartSandbox(ctx, pod, "10.251.9.0/24")
	if err != nil || len(ips) != 1 || len(again) != 1 || again[0] != ips[0] {
		t.Fatalf("sandbox IPs %v then %v (%v)", ips, again, err)
	}
	for i := range pod.Spec.Containers {
		if err := rt.StartContainer(ctx, pod, &pod.Spec.Containers[i], 0, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Images that are not there: the errors say why, in upstream's terms.
	for _, tc := range []struct {
		image  string
		policy corev1.PullPolicy
		reason string
	}{
		{"skiff.dev/absent:v1", corev1.PullNever, kubelet.ReasonErrImageNeverPull},
		{"127.0.0.1:1/absent:v1", corev1.PullIfNotPresent, kubelet.ReasonErrImagePull},
		{"UPPERCASE", corev1.PullIfNotPresent, kubelet.ReasonInvalidImageName},
	} {
		err := rt.StartContainer(ctx, pod, &corev1.Container{Name: "missing", Image: tc.image, ImagePullPolicy: tc.policy}, 0, nil)
		var se *kubelet.StartError
		if !errors.As(err, &se) || se.Reason != tc.reason || !strings.Contains(se.Message, tc.image) {
			t.Errorf("image %s (%s): %v, want %s", tc.image, tc.policy, err, tc.reason)
		}
	}

	// The pod serves on its IP, reached from the host over the bridge.
	var body string
	eventually(t, "the pod to serve HTTP", func() bool {
		resp, err := (&http.Client{Timeout: time.Second}).Get("http://" + ips[0] + ":8080/index.html")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == http.StatusOK
	})
	if body != "skiff test image\n" {
		t.Fatalf("served %q", body)
	}
	// The container that exits is reported with its code, and its pod
	// comes back through Events.
	select {
	case uid := <-rt.Events():
		if uid != pod.UID {
			t.Fatalf("event for %s", uid)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no event for the exited container")
	}
	states, err := rt.Containers(ctx, pod)
	if err != nil {
		t.Fatal(err)
	}
	if st := states["quits"]; !st.Exited || st.ExitCode != 3 || st.Reason != "Error" {
		t.Fatalf("quits: %+v", st)
	}
	// The memory limit holds: the kernel kills the container, reported as
	// upstream reports it.
	// (containerd's OOM event may come just after the exit's)
	eventually(t, "the hog to be OOM-killed", func() bool {
		states, err := rt.Containers(ctx, pod)
		return err == nil && states["hog"].Exited && states["hog"].Reason == "OOMKilled"
	})
	states, _ = rt.Containers(ctx, pod)
	if st := states["hog"]; st.ExitCode != 137 || st.Reason != "OOMKilled" {
		t.Fatalf("hog: %+v", st)
	}
	eventually(t, "the user container to finish", func() bool {
		states, err := rt.Containers(ctx, pod)
		return err == nil && states["user"].Exited
	})
	if logged := readLog(t, rt, pod, "user"); logged != "1000\n2000\nread-only\n" {
		t.Fatalf("user container output %q: want uid 1000, gid 2000, a read-only root", logged)
	}
	if _, _, err := rt.LogFile(ctx, pod, "containerd://"+containerID("another-pod", "user", 0)); err == nil {
		t.Fatal("the log of a container that does not exist")
	}
	// RuntimeDefault is containerd's seccomp filter (mode 2); a Localhost
	// profile that is not there fails the start.
	eventually(t, "the confined container to finish", func() bool {
		states, err := rt.Containers(ctx, pod)
		return err == nil && states["confined"].Exited
	})
	if logged := readLog(t, rt, pod, "confined"); logged != "Seccomp:\t2\n" {
		t.Fatalf("seccomp of a RuntimeDefault container: %q", logged)
	}
	missing := &corev1.Container{Name: "nofilter", Image: images.Name, ImagePullPolicy: corev1.PullNever, Command: []string{"true"},
		SecurityContext: &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: new("absent.json")}}}
	var se *kubelet.StartError
	if err := rt.StartContainer(ctx, pod, missing, 0, nil); !errors.As(err, &se) || se.Reason != kubelet.ReasonCreateError || !strings.Contains(se.Message, "absent.json") {
		t.Fatalf("a missing Localhost seccomp profile: %v", err)
	}
	testStreams(ctx, t, rt, pod)
	// A restarted agent goes on copying the containers' output: attach
	// works through the new runtime.
	rtCancel()
	rt.Close()
	rtCtx2, rtCancel2 := context.WithCancel(context.Background())
	t.Cleanup(rtCancel2) // after the pod's removal, which uses rt
	rt, err = New(rtCtx2, Config{Address: s.Address(), StateDir: state, Bridge: bridge})
	if err != nil {
		t.Fatal(err)
	}
	if got := attachOnce(ctx, t, rt, pod, "after restart\n"); got != "after restart\n" {
		t.Fatalf("attach after a restart echoed %q", got)
	}
	if logged := readLog(t, rt, pod, "echoer"); logged != "through attach\nafter restart\n" {
		t.Fatalf("echoer's log %q", logged)
	}
	if st := states["httpd"]; st.Exited || st.StartedAt.IsZero() || st.ImageRef == "" || st.ID == "" {
		t.Fatalf("httpd: %+v", st)
	}

	// busybox httpd as PID 1 ignores SIGTERM: killed after the grace period.
	if err := rt.StopPod(ctx, pod, 500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	states, err = rt.Containers(ctx, pod)
	if err != nil {
		t.Fatal(err)
	}
	if st := states["httpd"]; !st.Exited || st.ExitCode != 137 {
		t.Fatalf("httpd after stop: %+v", st)
	}
	if out, _ := exec.Command("iptables", "-t", "nat", "-S").CombinedOutput(); !strings.Contains(string(out), "--dport 28081") {
		t.Fatalf("no DNAT rule for the hostPort:\n%s", out)
	}
	if err := rt.RemovePod(ctx, pod.UID); err != nil {
		t.Fatal(err)
	}
	removed = true
	if out, _ := exec.Command("iptables", "-t", "nat", "-S").CombinedOutput(); strings.Contains(string(out), "--dport 28081") {
		t.Fatalf("hostPort rule left after removal:\n%s", out)
	}
	states, err = rt.Containers(ctx, pod)
	if err != nil || len(states) != 0 {
		t.Fatalf("after removal: %v %v", states, err)
	}
	if _, err := os.Stat(filepath.Join(state, "netns", string(pod.UID))); !os.IsNotExist(err) {
		t.Fatalf("netns left behind: %v", err)
	}
	// Removing again is not an error.
	if err := rt.RemovePod(ctx, pod.UID); err != nil {
		t.Fatal(err)
	}
}

// importTestImage builds the test image into s's containerd and returns a
// client (the caller closes it) with its namespaced context.
func importTestImage(ctx context.Context, t *testing.T, s *Supervisor) (*containerd.Client, context.Context) {
	t.Helper()
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("busybox-static is not installed (hack/install-deps.sh)")
	}
	var tarball bytes.Buffer
	if err := images.Build(&tarball, "/bin/busybox"); err != nil {
		t.Fatal(err)
	}
	c, cctx, err := Connect(ctx, s.Address())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Import(cctx, c, &tarball); err != nil {
		c.Close()
		t.Fatal(err)
	}
	return c, cctx
}

// readLog reads a container's whole log as `kubectl logs` would.
func readLog(t *testing.T, rt *Runtime, pod *corev1.Pod, name string) string {
	t.Helper()
	states, err := rt.Containers(context.Background(), pod)
	if err != nil {
		t.Fatal(err)
	}
	path, _, err := rt.LogFile(context.Background(), pod, states[name].ID)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := logs.Read(context.Background(), path, logs.Options{Tail: -1}, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// attachOnce writes line to the echoer container (cat) through attach
// and returns what came back.
func attachOnce(ctx context.Context, t *testing.T, rt *Runtime, pod *corev1.Pod, line string) string {
	t.Helper()
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	stdinR, stdinW := io.Pipe()
	out := &testserver.SyncBuffer{}
	done := make(chan error, 1)
	go func() { done <- rt.Attach(actx, pod, "echoer", stdinR, nopCloser{out}, nil, false, nil) }()
	if _, err := stdinW.Write([]byte(line)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the attached container to echo", func() bool { return out.String() == line })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	stdinW.Close()
	return out.String()
}

// testStreams runs exec, attach and port-forward against the pod.
func testStreams(ctx context.Context, t *testing.T, rt *Runtime, pod *corev1.Pod) {
	t.Helper()
	var out, errOut testserver.SyncBuffer
	err := rt.Exec(ctx, pod, "httpd", []string{"sh", "-c", "echo out; echo err >&2; id -u; exit 7"}, nil, nopCloser{&out}, nopCloser{&errOut}, false, nil)
	var exitErr utilexec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitStatus() != 7 {
		t.Fatalf("exec: %v, want exit status 7", err)
	}
	if out.String() != "out\n0\n" || errOut.String() != "err\n" {
		t.Fatalf("exec stdout %q stderr %q", out.String(), errOut.String())
	}
	out = testserver.SyncBuffer{}
	if err := rt.Exec(ctx, pod, "httpd", []string{"cat"}, strings.NewReader("from stdin"), nopCloser{&out}, nil, false, nil); err != nil || out.String() != "from stdin" {
		t.Fatalf("exec with stdin: %q, %v", out.String(), err)
	}
	if err := rt.Exec(ctx, pod, "quits", []string{"true"}, nil, nopCloser{&out}, nil, false, nil); err == nil {
		t.Fatal("exec into an exited container worked")
	}
	if got := attachOnce(ctx, t, rt, pod, "through attach\n"); got != "through attach\n" {
		t.Fatalf("attach echoed %q", got)
	}
	// Port-forward reaches the pod's loopback from inside its netns.
	client, server := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- rt.PortForward(ctx, pod, 8080, server) }()
	go func() { _, _ = client.Write([]byte("GET /index.html HTTP/1.0\r\n\r\n")) }()
	resp, err := io.ReadAll(client)
	if err != nil || !strings.Contains(string(resp), "skiff test image") {
		t.Fatalf("port-forward answered %q (%v)", resp, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// removePortmapChains deletes the portmap plugin's shared nat chains and
// the jumps to them.
func removePortmapChains() {
	for _, rule := range [][]string{
		{"PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT"},
		{"OUTPUT", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT"},
		{"POSTROUTING", "-m", "comment", "--comment", "CNI portfwd requiring masquerade", "-j", "CNI-HOSTPORT-MASQ"},
	} {
		_ = exec.Command("iptables", append([]string{"-t", "nat", "-D"}, rule...)...).Run()
	}
	for _, chain := range []string{"CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-SETMARK"} {
		_ = exec.Command("iptables", "-t", "nat", "-F", chain).Run()
		_ = exec.Command("iptables", "-t", "nat", "-X", chain).Run()
	}
}
