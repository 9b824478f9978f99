package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skiffhq/skiff/test/images"
	"github.com/skiffhq/skiff/test/testserver"
)

// eventually polls f until it succeeds (testserver.Eventually).
var eventually = testserver.Eventually

func needRuntime(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the containerd node agent needs root")
	}
	for _, bin := range []string{"containerd", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (hack/install-deps.sh)", bin)
		}
	}
	for _, f := range []string{"/usr/lib/cni/bridge", "/bin/busybox"} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("%s is missing (hack/install-deps.sh)", f)
		}
	}
}

// TestContainerdNode runs `skiff server --runtime containerd` as a user
// would: the machine's node registers Ready with real capacity, the test
// image is imported with `skiff images import`, a Deployment's pods serve
// HTTP on their pod IPs, containers' exit codes reach pod status, and
// deleting the pods leaves no container or network namespace behind.
func TestContainerdNode(t *testing.T) {
	needRuntime(t)
	id := os.Getpid() % 100000
	bridge := fmt.Sprintf("ske%d", id)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", bridge).Run() })
	node := fmt.Sprintf("e2e-%d", id)
	srv := testserver.Start(t, "--runtime", "containerd", "--node-name", node, "--pod-bridge", bridge, "--cluster-cidr", "10.252.0.0/16")
	k := func(args ...string) string {
		t.Helper()
		out, err := srv.Kubectl(args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(out)
	}
	agentState := filepath.Join(srv.DataDir, "agent")
	// Whatever happens, leave no running container behind.
	t.Cleanup(func() {
		_, _ = srv.Kubectl("delete", "deployments,jobs,pods", "--all", "--grace-period=0", "--wait=true", "--timeout=60s")
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			if entries, _ := os.ReadDir(filepath.Join(agentState, "pods")); len(entries) == 0 {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Errorf("pods' containers still present in %s", agentState)
	})

	eventually(t, 30*time.Second, func() error {
		out, _ := srv.Kubectl("get", "node", node, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status} {.spec.podCIDR} {.status.capacity.cpu} {.status.nodeInfo.containerRuntimeVersion}`)
		if !strings.HasPrefix(out, "True 10.252.") || !strings.Contains(out, "containerd://") {
			return fmt.Errorf("node: %q", out)
		}
		return nil
	})

	bin, err := testserver.Binary()
	if err != nil {
		t.Fatal(err)
	}
	tarball := filepath.Join(t.TempDir(), "test-image.tar")
	f, err := os.Create(tarball)
	if err != nil {
		t.Fatal(err)
	}
	if err := images.Build(f, "/bin/busybox"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out, err := exec.Command(bin, "images", "import", "--data-dir", srv.DataDir, tarball).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "imported "+images.Name) {
		t.Fatalf("skiff images import: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "images", "ls", "--data-dir", srv.DataDir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), images.Name) {
		t.Fatalf("skiff images ls: %v\n%s", err, out)
	}

	hostDir := filepath.Join(t.TempDir(), "host")
	manifest := fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: httpd
        image: %[1]s
        command: [sh, -c, 'echo "$MSG $(POD)" > /var/www/env.txt && cp /etc/hosts /var/www/hosts && hostname > /var/www/hostname && exec httpd -f -p 8080 -h /var/www']
        env:
        - {name: MSG, valueFrom: {configMapKeyRef: {name: web-config, key: greeting}}}
        - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {greeting: hello}
---
apiVersion: v1
kind: Pod
metadata: {name: fails}
spec:
  restartPolicy: Never
  containers:
  - {name: main, image: %[1]s, command: [sh, -c, "exit 3"]}
---
apiVersion: v1
kind: Secret
metadata: {name: vol-secret}
stringData: {password: s3cret}
---
apiVersion: v1
kind: Pod
metadata: {name: vols, labels: {tier: front}}
spec:
  containers:
  - name: main
    image: %[1]s
    command: [sh, -c, 'cat /cfg/greeting /sec/password /info/labels > /var/www/vols.txt; echo hostfile > /host/from-pod; mount | grep -c " /scratch type tmpfs" >> /var/www/vols.txt; exec httpd -f -p 8080 -h /var/www']
    volumeMounts:
    - {name: cfg, mountPath: /cfg}
    - {name: sec, mountPath: /sec, readOnly: true}
    - {name: info, mountPath: /info}
    - {name: scratch, mountPath: /scratch}
    - {name: host, mountPath: /host}
  volumes:
  - {name: cfg, configMap: {name: web-config}}
  - {name: sec, secret: {secretName: vol-secret}}
  - {name: info, downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}}
  - {name: scratch, emptyDir: {medium: Memory}}
  - {name: host, hostPath: {path: %[2]s, type: DirectoryOrCreate}}
---
apiVersion: v1
kind: Pod
metadata: {name: init}
spec:
  initContainers:
  - {name: first, image: %[1]s, command: [sh, -c, 'echo one > /work/order'], volumeMounts: [{name: work, mountPath: /work}]}
  - {name: second, image: %[1]s, command: [sh, -c, 'echo two >> /work/order'], volumeMounts: [{name: work, mountPath: /work}]}
  containers:
  - {name: main, image: %[1]s, command: [sh, -c, 'cp /work/order /var/www/order && exec httpd -f -p 8080 -h /var/www'], volumeMounts: [{name: work, mountPath: /work}]}
  volumes:
  - {name: work, emptyDir: {}}
---
apiVersion: v1
kind: Pod
metadata: {name: crashes}
spec:
  containers:
  - {name: main, image: %[1]s, command: [sh, -c, 'echo crashing; exit 1']}
---
apiVersion: v1
kind: Pod
metadata: {name: nopull}
spec:
  containers:
  - {name: main, image: "127.0.0.1:1/missing:v1"}
`, images.Name, hostDir)
	if out, err := srv.KubectlStdin(manifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	k("rollout", "status", "deployment/web", "--timeout=60s")
	ips := strings.Fields(k("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.podIP}"))
	names := strings.Fields(k("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}"))
	if len(ips) != 2 || len(names) != 2 {
		t.Fatalf("pod IPs %v, names %v", ips, names)
	}
	for i, ip := range ips {
		// env from a ConfigMap and the downward API, $(VAR) in the command.
		eventually(t, 20*time.Second, func() error {
			resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + ip + ":8080/env.txt")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if want := "hello " + names[i] + "\n"; string(body) != want {
				return fmt.Errorf("env.txt %q, want %q", body, want)
			}
			return nil
		})
		// The pod's own /etc/hosts and hostname.
		for file, want := range map[string]string{"hosts": ip + "\t" + names[i] + "\n", "hostname": names[i] + "\n"} {
			resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + ip + ":8080/" + file)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(body), want) {
				t.Fatalf("%s of pod %s: %q lacks %q", file, names[i], body, want)
			}
		}
		if !strings.HasPrefix(ip, "10.252.") {
			t.Fatalf("pod IP %s not from the node's podCIDR", ip)
		}
		eventually(t, 20*time.Second, func() error {
			resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + ip + ":8080/index.html")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if string(body) != "skiff test image\n" {
				return fmt.Errorf("served %q", body)
			}
			return nil
		})
	}
	eventually(t, 30*time.Second, func() error {
		out, _ := srv.Kubectl("get", "pod", "fails", "-o", `jsonpath={.status.phase} {.status.containerStatuses[0].state.terminated.exitCode} {.status.containerStatuses[0].state.terminated.reason}`)
		if out != "Failed 3 Error" {
			return fmt.Errorf("pod fails: %q", out)
		}
		return nil
	})

	// A restart of the server adopts the running containers: same IDs,
	// no restarts, still serving.
	before := k("get", "pods", "-l", "app=web", "-o", `jsonpath={range .items[*]}{.metadata.name}={.status.containerStatuses[0].containerID}/{.status.containerStatuses[0].restartCount} {end}`)
	srv.Restart(t)
	eventually(t, 30*time.Second, func() error {
		out, _ := srv.Kubectl("get", "node", node, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		if out != "True" {
			return fmt.Errorf("node Ready=%q after restart", out)
		}
		return nil
	})
	after := k("get", "pods", "-l", "app=web", "-o", `jsonpath={range .items[*]}{.metadata.name}={.status.containerStatuses[0].containerID}/{.status.containerStatuses[0].restartCount} {end}`)
	if before != after || !strings.Contains(after, "/0") {
		t.Fatalf("containers after restart: %q, before: %q", after, before)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + ips[0] + ":8080/index.html")
	if err != nil {
		t.Fatalf("pod not serving after the restart: %v", err)
	}
	resp.Body.Close()

	// Volumes: ConfigMap, Secret, downward API and hostPath content seen
	// inside the container, the Memory emptyDir a tmpfs.
	k("wait", "--for=condition=Ready", "pod/vols", "--timeout=60s")
	volsIP := k("get", "pod", "vols", "-o", "jsonpath={.status.podIP}")
	eventually(t, 20*time.Second, func() error {
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + volsIP + ":8080/vols.txt")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if want := "hellos3crettier=\"front\"1\n"; string(body) != want {
			return fmt.Errorf("vols.txt %q, want %q", body, want)
		}
		return nil
	})
	if b, err := os.ReadFile(filepath.Join(hostDir, "from-pod")); err != nil || string(b) != "hostfile\n" {
		t.Fatalf("hostPath file: %q, %v", b, err)
	}

	// Init containers run to completion, in order, before the main one.
	k("wait", "--for=condition=Ready", "pod/init", "--timeout=60s")
	initIP := k("get", "pod", "init", "-o", "jsonpath={.status.podIP}")
	eventually(t, 20*time.Second, func() error {
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + initIP + ":8080/order")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if string(body) != "one\ntwo\n" {
			return fmt.Errorf("order %q", body)
		}
		return nil
	})
	if out := k("get", "pod", "init", "-o", `jsonpath={.status.initContainerStatuses[*].state.terminated.reason}`); out != "Completed Completed" {
		t.Fatalf("init containers: %q", out)
	}
	// A crashing container is restarted with back-off: CrashLoopBackOff,
	// its last state the exit.
	eventually(t, 40*time.Second, func() error {
		out, _ := srv.Kubectl("get", "pod", "crashes", "-o", `jsonpath={.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].state.waiting.reason} {.status.containerStatuses[0].lastState.terminated.exitCode}`)
		if f := strings.Fields(out); len(f) != 3 || f[0] == "0" || f[1] != "CrashLoopBackOff" || f[2] != "1" {
			return fmt.Errorf("pod crashes: %q", out)
		}
		return nil
	})

	// An image that cannot be pulled: ErrImagePull, then ImagePullBackOff,
	// with the reason in the status and an event, as upstream.
	eventually(t, 30*time.Second, func() error {
		out, _ := srv.Kubectl("get", "pod", "nopull", "-o", `jsonpath={.status.phase} {.status.containerStatuses[0].state.waiting.reason}: {.status.containerStatuses[0].state.waiting.message}`)
		if !strings.HasPrefix(out, "Pending ErrImagePull: ") && !strings.HasPrefix(out, "Pending ImagePullBackOff: ") || !strings.Contains(out, "127.0.0.1:1/missing:v1") {
			return fmt.Errorf("pod nopull: %q", out)
		}
		return nil
	})
	eventually(t, 30*time.Second, func() error {
		out, _ := srv.Kubectl("get", "events", "--field-selector", "involvedObject.name=nopull", "-o", `jsonpath={range .items[*]}{.source.component}/{.reason}: {.message}{"\n"}{end}`)
		if !strings.Contains(out, `kubelet/Failed: Failed to pull image "127.0.0.1:1/missing:v1"`) {
			return fmt.Errorf("events: %q", out)
		}
		return nil
	})

	k("delete", "deployment", "web", "--wait=true")
	k("delete", "pod", "fails", "nopull", "vols", "init", "crashes", "--wait=true")
	eventually(t, 60*time.Second, func() error {
		if out, _ := srv.Kubectl("get", "pods", "-o", "jsonpath={.items[*].metadata.name}"); strings.TrimSpace(out) != "" {
			return fmt.Errorf("pods left: %s", out)
		}
		for _, dir := range []string{"pods", "netns", "volumes"} {
			if entries, _ := os.ReadDir(filepath.Join(agentState, dir)); len(entries) != 0 {
				return fmt.Errorf("%s left in %s", entries[0].Name(), dir)
			}
		}
		return nil
	})
}
