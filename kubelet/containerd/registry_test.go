package containerd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/crypto/bcrypt"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/kubelet"
	testimages "github.com/skiffhq/skiff/test/images"
)

// startRegistry runs Debian's docker-registry on a free loopback port
// until the test ends and returns its host:port; with a user, pushes and
// pulls need that login (htpasswd).
func startRegistry(t *testing.T, user, password string) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Skip("docker-registry is not installed (hack/install-deps.sh)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	config := filepath.Join(dir, "config.yml")
	cfg := fmt.Sprintf("version: 0.1\nlog: {level: warn}\nstorage:\n  filesystem: {rootdirectory: %s}\nhttp: {addr: %q}\n", filepath.Join(dir, "data"), addr)
	if user != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg += fmt.Sprintf("auth:\n  htpasswd: {realm: skiff, path: %s}\n", htpasswd)
	}
	if err := os.WriteFile(config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", config)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("registry output:\n%s", out.String())
		}
	})
	eventually(t, "the registry to answer", func() bool {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && (resp.StatusCode == http.StatusOK || user != "" && resp.StatusCode == http.StatusUnauthorized)
	})
	return addr
}

// pullFixture is a registry on loopback, a containerd holding the test
// image and a runtime on it.
type pullFixture struct {
	registry string
	c        *containerd.Client
	cctx     context.Context
	target   ocispec.Descriptor
	rt       *Runtime
}

func newPullFixture(ctx context.Context, t *testing.T, user, password string) *pullFixture {
	t.Helper()
	f := &pullFixture{registry: startRegistry(t, user, password)}
	s := startContainerd(t)
	f.c, f.cctx = importTestImage(ctx, t, s)
	t.Cleanup(func() { f.c.Close() })
	img, err := f.c.ImageService().Get(f.cctx, testimages.Name)
	if err != nil {
		t.Fatal(err)
	}
	f.target = img.Target
	rtCtx, rtCancel := context.WithCancel(context.Background())
	t.Cleanup(rtCancel)
	if f.rt, err = New(rtCtx, Config{Address: s.Address(), StateDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.rt.Close() })
	return f
}

// pod makes a host-network pod of one container of image, its sandbox
// ready, removed when the test ends.
func (f *pullFixture) pod(ctx context.Context, t *testing.T, uid, image string, cmd ...string) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "pull", Namespace: "default", UID: types.UID(uid)},
		Spec: corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{
			{Name: "main", Image: image, ImagePullPolicy: corev1.PullAlways, Command: cmd}}},
	}
	t.Cleanup(func() { _ = f.rt.RemovePod(context.Background(), pod.UID) })
	if _, err := f.rt.StartSandbox(ctx, pod, ""); err != nil {
		t.Fatal(err)
	}
	return pod
}

// TestPullFromRegistry pushes the test image to a registry on loopback
// and has a pod pull it (imagePullPolicy Always) through containerd's
// resolver, as from any registry.
func TestPullFromRegistry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := newPullFixture(ctx, t, "", "")
	remote := f.registry + "/skiff/busybox:pushed"
	if err := f.c.Push(f.cctx, remote, f.target); err != nil {
		t.Fatalf("pushing to the loopback registry: %v", err)
	}
	pod := f.pod(ctx, t, "5d0b6a2e-2222-4d6e-9c1e-3f1b8e2a7d02", remote, "sh", "-c", "echo pulled")
	if err := f.rt.StartContainer(ctx, pod, &pod.Spec.Containers[0], 0, nil); err != nil {
		t.Fatalf("starting a container of a pulled image: %v", err)
	}
	var st kubelet.ContainerState
	eventually(t, "the container to finish", func() bool {
		states, err := f.rt.Containers(ctx, pod)
		st = states["main"]
		return err == nil && st.Exited
	})
	if st.ExitCode != 0 || !strings.HasPrefix(st.ImageRef, f.registry+"/skiff/busybox@sha256:") || !strings.HasSuffix(st.ImageRef, f.target.Digest.Encoded()) {
		t.Fatalf("pulled container: exit %d, imageID %q (pushed %s)", st.ExitCode, st.ImageRef, f.target.Digest)
	}
	if logged := readLog(t, f.rt, pod, "main"); logged != "pulled\n" {
		t.Fatalf("output %q", logged)
	}
	if _, err := f.c.ImageService().Get(f.cctx, remote); err != nil {
		t.Fatalf("the pulled image is not in containerd: %v", err)
	}
}

// TestPullWithImagePullSecret pulls from a registry that needs a login:
// refused without credentials (ErrImagePull), pulled with those of the
// pod's imagePullSecrets.
func TestPullWithImagePullSecret(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := newPullFixture(ctx, t, "skiff", "s3cret")
	login := []kubelet.PullCredential{{Registry: f.registry, Username: "skiff", Password: "s3cret"}}
	remote := f.registry + "/private/busybox:v1"
	pushResolver := docker.NewResolver(docker.ResolverOptions{Hosts: docker.ConfigureDefaultRegistries(
		docker.WithPlainHTTP(docker.MatchLocalhost),
		docker.WithAuthorizer(docker.NewDockerAuthorizer(docker.WithAuthCreds(func(string) (string, string, error) { return "skiff", "s3cret", nil }))))})
	if err := f.c.Push(f.cctx, remote, f.target, containerd.WithResolver(pushResolver)); err != nil {
		t.Fatalf("pushing with the login: %v", err)
	}
	pod := f.pod(ctx, t, "5d0b6a2e-3333-4d6e-9c1e-3f1b8e2a7d03", remote, "true")
	err := f.rt.StartContainer(ctx, pod, &pod.Spec.Containers[0], 0, nil)
	var se *kubelet.StartError
	if !errors.As(err, &se) || se.Reason != kubelet.ReasonErrImagePull {
		t.Fatalf("pull without a login: %v, want ErrImagePull", err)
	}
	if err := f.rt.StartContainer(kubelet.WithPullCredentials(ctx, login), pod, &pod.Spec.Containers[0], 0, nil); err != nil {
		t.Fatalf("pull with the pod's login: %v", err)
	}
}
