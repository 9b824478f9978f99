package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	. "github.com/onsi/ginkgo/v2"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/skiffhq/skiff/kubelet/network"
	"github.com/skiffhq/skiff/test/images"
	"github.com/skiffhq/skiff/test/testserver"
)

// eventually polls f until it succeeds (testserver.Eventually).
var eventually = testserver.Eventually

func needRuntime(t testing.TB) {
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

// A node on containerd, driven as a user would with kubectl: `skiff
// server --runtime containerd` registers the machine Ready with real
// capacity, the test image is imported with `skiff images import`, pods
// serve HTTP on their IPs with their env, files and volumes, exit codes,
// probes and hooks act as upstream, kubectl reaches containers through the
// API server, a restart adopts running containers, a second node joins
// with `skiff agent`, and deleting the pods leaves nothing behind.
var _ = Describe("a node on containerd", Ordered, func() {
	var (
		bridge, node, agentState, hostDir string
		id                                int
		srv                               *testserver.Server
		k                                 func(args ...string) string
		ips, names                        []string
	)

	BeforeAll(func() {
		t := GinkgoTB()
		needRuntime(t)
		hostDir = filepath.Join(t.TempDir(), "host")
		id = os.Getpid() % 100000
		bridge = fmt.Sprintf("ske%d", id)
		t.Cleanup(func() { _ = network.RemoveNode(context.Background(), bridge) })
		node = fmt.Sprintf("e2e-%d", id)
		dataDir := t.TempDir()
		testserver.ReapContainers(t, dataDir)
		srv = testserver.StartIn(t, dataDir, "--runtime", "containerd", "--node-name", node, "--pod-bridge", bridge, "--cluster-cidr", "10.252.0.0/16",
			"--nodeport-addresses", "0.0.0.0/0")
		kubectl := mustKubectl(t, srv)
		k = func(args ...string) string {
			t.Helper()
			return strings.TrimSpace(kubectl(args...))
		}
		agentState = filepath.Join(srv.DataDir, "agent")
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
	})

	It("registers this machine as a Ready node with containerd", func() {
		t := GinkgoTB()
		eventually(t, 30*time.Second, func() error {
			out, _ := srv.Kubectl("get", "node", node, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status} {.spec.podCIDR} {.status.capacity.cpu} {.status.nodeInfo.containerRuntimeVersion}`)
			if !strings.HasPrefix(out, "True 10.252.") || !strings.Contains(out, "containerd://") {
				return fmt.Errorf("node: %q", out)
			}
			return nil
		})

	})

	It("imports images with skiff images import and lists them", func() {
		t := GinkgoTB()
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

	})

	It("runs a Deployment whose pods serve HTTP on their IPs, and reports exit codes", func() {
		t := GinkgoTB()
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
  - {name: main, image: %[1]s, command: [sh, -c, "echo failing; exit 3"]}
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
metadata: {name: talker}
spec:
  containers:
  - {name: main, image: %[1]s, command: [sh, -c, 'echo line1; echo line2; sleep 1; echo err1 >&2; exec httpd -f -p 8080 -h /var/www']}
---
apiVersion: v1
kind: Pod
metadata: {name: probed}
spec:
  containers:
  - name: main
    image: %[1]s
    command: [sh, -c, 'exec httpd -f -p 8080 -h /var/www']
    ports: [{name: web, containerPort: 8080}]
    startupProbe: {tcpSocket: {port: web}, periodSeconds: 1}
    readinessProbe: {exec: {command: [test, -f, /tmp/ready]}, periodSeconds: 1}
    livenessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1, failureThreshold: 2}
    lifecycle:
      postStart: {exec: {command: [sh, -c, 'cp /var/www/index.html /var/www/healthz']}}
---
apiVersion: v1
kind: Pod
metadata: {name: hooked}
spec:
  terminationGracePeriodSeconds: 10
  containers:
  - name: main
    image: %[1]s
    command: [sh, -c, 'trap "echo term >> /host/hooks; exit 0" TERM; while true; do sleep 0.2; done']
    lifecycle:
      preStop: {exec: {command: [sh, -c, 'echo prestop >> /host/hooks']}}
    volumeMounts: [{name: host, mountPath: /host}]
  volumes:
  - {name: host, hostPath: {path: %[2]s, type: DirectoryOrCreate}}
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
		ips = strings.Fields(k("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.podIP}"))
		names = strings.Fields(k("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}"))
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

	})

	It("adopts the running containers across a server restart", func() {
		t := GinkgoTB()
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

	})

	It("mounts ConfigMap, Secret, downward API, tmpfs and hostPath volumes and follows ConfigMap changes", func() {
		t := GinkgoTB()
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
		// A changed ConfigMap reaches the running pod's volume.
		k("patch", "configmap", "web-config", "-p", `{"data":{"greeting":"updated"}}`)
		eventually(t, 40*time.Second, func() error {
			if out, _ := srv.Kubectl("exec", "vols", "--", "cat", "/cfg/greeting"); out != "updated" {
				return fmt.Errorf("/cfg/greeting in the pod: %q", out)
			}
			return nil
		})

	})

	It("runs init containers in order and backs off crashing containers", func() {
		t := GinkgoTB()
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

	})

	It("serves logs, exec, cp, port-forward, attach and stats through the API server", func() {
		t := GinkgoTB()
		testKubectlStreams(t, srv)
		// The node's summary of CPU and memory use, through nodes/proxy.
		var summary statsv1alpha1.Summary
		if err := json.Unmarshal([]byte(k("get", "--raw", "/api/v1/nodes/"+node+"/proxy/stats/summary")), &summary); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, p := range summary.Pods {
			for _, c := range p.Containers {
				if p.PodRef.Name == "talker" && c.Name == "main" && c.Memory != nil && c.Memory.WorkingSetBytes != nil && *c.Memory.WorkingSetBytes > 0 &&
					c.CPU != nil && c.CPU.UsageCoreNanoSeconds != nil && *c.CPU.UsageCoreNanoSeconds > 0 {
					found = true
				}
			}
		}
		if summary.Node.NodeName != node || summary.Node.Memory == nil || !found {
			t.Fatalf("stats summary of node %q: %+v", node, summary)
		}
	})

	It("runs probes and lifecycle hooks", func() {
		t := GinkgoTB()
		testProbesAndHooks(t, srv, hostDir)

	})

	It("reports images that cannot be pulled", func() {
		t := GinkgoTB()
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
	})

	It("gives pods it cannot run a clear reason and an event, and keeps running the others", func() {
		t := GinkgoTB()
		manifest := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: badcmd}
spec:
  containers:
  - {name: main, image: %[1]s, command: [/no/such/binary]}
---
apiVersion: v1
kind: Pod
metadata: {name: badvol}
spec:
  containers:
  - {name: main, image: %[1]s, command: [sleep, "3600"], volumeMounts: [{name: v, mountPath: /v}]}
  volumes:
  - {name: v, hostPath: {path: /no/such/file, type: File}}
---
apiVersion: v1
kind: Pod
metadata: {name: badsec}
spec:
  securityContext: {runAsNonRoot: true}
  containers:
  - {name: main, image: %[1]s, command: [sleep, "3600"]}
`, images.Name)
		// Retried: a run once failed here with a transient error (its
		// output was not kept); any lasting failure still fails.
		eventually(t, 30*time.Second, func() error {
			if out, err := srv.KubectlStdin(manifest, "apply", "-f", "-"); err != nil {
				t.Logf("apply (will retry): %v\n%s", err, out)
				return fmt.Errorf("apply: %v\n%s", err, out)
			}
			return nil
		})
		for pod, want := range map[string]string{
			"badcmd": "RunContainerError",
			"badvol": "ContainerCreating",
			"badsec": "CreateContainerConfigError",
		} {
			eventually(t, 30*time.Second, func() error {
				out, _ := srv.Kubectl("get", "pod", pod, "-o", `jsonpath={.status.containerStatuses[0].state.waiting.reason}: {.status.containerStatuses[0].state.waiting.message}`)
				if !strings.HasPrefix(out, want+": ") {
					return fmt.Errorf("pod %s: %q, want %s", pod, out, want)
				}
				return nil
			})
		}
		for pod, want := range map[string]string{
			"badcmd": "Failed: Error: RunContainerError",
			"badvol": `FailedMount: MountVolume.SetUp failed for volume "v"`,
			"badsec": "Failed: Error: CreateContainerConfigError",
		} {
			eventually(t, 30*time.Second, func() error {
				out, _ := srv.Kubectl("get", "events", "--field-selector", "involvedObject.name="+pod, "-o", `jsonpath={range .items[*]}{.reason}: {.message}{"\n"}{end}`)
				if !strings.Contains(out, want) {
					return fmt.Errorf("events of %s: %q, want %q", pod, out, want)
				}
				return nil
			})
		}
		// The node goes on serving the pods it can run.
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + ips[0] + ":8080/index.html")
		if err != nil {
			t.Fatalf("a running pod stopped serving: %v", err)
		}
		resp.Body.Close()
		k("delete", "pod", "badcmd", "badvol", "badsec", "--wait=true")
	})

	It("makes Services reachable by cluster IP, node port, load balancer and DNS name", func() {
		testServices(GinkgoTB(), srv, node)
	})

	It("calls admission webhooks served by a pod behind a Service", func() {
		testPodWebhooks(GinkgoTB(), srv)
	})

	It("joins a second node with skiff agent", func() {
		t := GinkgoTB()
		joinedBridge := fmt.Sprintf("skj%d", id)
		t.Cleanup(func() { _ = network.RemoveNode(context.Background(), joinedBridge) })
		testJoinedAgent(t, srv, node, joinedBridge)
	})

	It("leaves no container, namespace or volume behind once pods are deleted", func() {
		t := GinkgoTB()
		k("delete", "deployment", "web", "--wait=true")
		k("delete", "pod", "fails", "nopull", "vols", "init", "crashes", "talker", "att", "probed", "--wait=true")
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
	})

})

// testKubectlStreams checks what kubectl reaches through the API server
// and the node agent: logs (with --previous, --tail, --timestamps, -f),
// exec (exit codes, stdin), cp, port-forward and attach (run -i).
func testKubectlStreams(t testing.TB, srv *testserver.Server) {
	t.Helper()
	k := mustKubectl(t, srv)
	k("wait", "--for=condition=Ready", "pod/talker", "--timeout=60s")
	eventually(t, 20*time.Second, func() error {
		if out, _ := srv.Kubectl("logs", "talker"); out != "line1\nline2\nerr1\n" {
			return fmt.Errorf("logs talker: %q", out)
		}
		return nil
	})
	if out := k("logs", "talker", "--tail=1", "-c", "main"); out != "err1\n" {
		t.Fatalf("logs --tail=1: %q", out)
	}
	if out := k("logs", "talker", "--tail=1", "--timestamps"); !regexp.MustCompile(`^20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z err1\n$`).MatchString(out) {
		t.Fatalf("logs --timestamps: %q", out)
	}
	if out, err := srv.Kubectl("logs", "talker", "--previous"); err == nil || !strings.Contains(out, `previous terminated container "main" in pod "talker" not found`) {
		t.Fatalf("logs --previous of a container that never restarted: %v %q", err, out)
	}
	// The crash-looping pod's logs, and those of its previous instance.
	for _, args := range [][]string{{"logs", "crashes"}, {"logs", "crashes", "--previous"}} {
		if out := k(args...); out != "crashing\n" {
			t.Fatalf("kubectl %s: %q", strings.Join(args, " "), out)
		}
	}
	// A finished pod keeps its logs.
	if out := k("logs", "fails"); out != "failing\n" {
		t.Fatalf("logs of a failed pod: %q", out)
	}

	// Follow: what the container writes later arrives.
	follow := srv.KubectlCmd("logs", "-f", "talker")
	var followed testserver.SyncBuffer
	follow.Stdout, follow.Stderr = &followed, &followed
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = follow.Process.Kill(); _ = follow.Wait() }()
	eventually(t, 20*time.Second, func() error {
		if followed.String() != "line1\nline2\nerr1\n" {
			return fmt.Errorf("followed %q", followed.String())
		}
		return nil
	})
	k("exec", "talker", "--", "sh", "-c", "echo live > /proc/1/fd/1")
	eventually(t, 20*time.Second, func() error {
		if followed.String() != "line1\nline2\nerr1\nlive\n" {
			return fmt.Errorf("followed %q", followed.String())
		}
		return nil
	})

	// Exec: output, exit codes, stdin.
	if out := k("exec", "talker", "--", "sh", "-c", "echo in $(hostname) as $(id -u)"); out != "in talker as 0\n" {
		t.Fatalf("exec: %q", out)
	}
	cmd := srv.KubectlCmd("exec", "talker", "--", "sh", "-c", "exit 5")
	if out, _ := cmd.CombinedOutput(); cmd.ProcessState.ExitCode() != 5 || !strings.Contains(string(out), "command terminated with exit code 5") {
		t.Fatalf("exec exit 5: code %d, %q", cmd.ProcessState.ExitCode(), out)
	}
	// Service links: the kubernetes Service's variables.
	if out, ip := k("exec", "talker", "--", "sh", "-c", "echo $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT"), k("get", "svc", "kubernetes", "-o", "jsonpath={.spec.clusterIP}"); out != ip+":443\n" {
		t.Fatalf("KUBERNETES_SERVICE_HOST:PORT in the pod %q, service IP %s", out, ip)
	}
	// The service account's API access, mounted by admission and filled
	// by the node: namespace, CA, a token the API server accepts.
	if out := k("exec", "talker", "--", "cat", "/var/run/secrets/kubernetes.io/serviceaccount/namespace"); out != "default" {
		t.Fatalf("service account namespace file: %q", out)
	}
	if out := k("exec", "talker", "--", "cat", "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"); !strings.HasPrefix(out, "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("service account ca.crt: %q", out)
	}
	token := k("exec", "talker", "--", "cat", "/var/run/secrets/kubernetes.io/serviceaccount/token")
	tokenCfg := rest.AnonymousClientConfig(srv.RESTConfig(t))
	tokenCfg.BearerToken = token
	review, err := kubernetes.NewForConfigOrDie(tokenCfg).AuthenticationV1().SelfSubjectReviews().Create(context.Background(), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil || review.Status.UserInfo.Username != "system:serviceaccount:default:default" {
		t.Fatalf("the pod's token: %v %+v", err, review)
	}
	stdinCmd := srv.KubectlCmd("exec", "-i", "talker", "--", "cat")
	stdinCmd.Stdin = strings.NewReader("from stdin")
	if out, err := stdinCmd.Output(); err != nil || string(out) != "from stdin" {
		t.Fatalf("exec -i: %q %v", out, err)
	}
	if out, err := srv.Kubectl("exec", "talker", "-c", "nope", "--", "true"); err == nil || !strings.Contains(out, "container nope is not valid for pod talker") {
		t.Fatalf("exec into an unknown container: %v %q", err, out)
	}

	// cp both ways (tar through exec).
	local := filepath.Join(t.TempDir(), "up.txt")
	if err := os.WriteFile(local, []byte("copied up\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k("cp", local, "talker:/tmp/up.txt")
	if out := k("exec", "talker", "--", "cat", "/tmp/up.txt"); out != "copied up\n" {
		t.Fatalf("file copied in: %q", out)
	}
	down := filepath.Join(t.TempDir(), "down.html")
	k("cp", "talker:/var/www/index.html", down)
	if b, err := os.ReadFile(down); err != nil || string(b) != "skiff test image\n" {
		t.Fatalf("file copied out: %q %v", b, err)
	}

	// Port-forward to the pod's port 8080.
	port, err := testserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	pf := srv.KubectlCmd("port-forward", "pod/talker", fmt.Sprintf("%d:8080", port))
	var pfOut testserver.SyncBuffer
	pf.Stdout, pf.Stderr = &pfOut, &pfOut
	if err := pf.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pf.Process.Kill(); _ = pf.Wait() }()
	eventually(t, 20*time.Second, func() error {
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d/index.html", port))
		if err != nil {
			return fmt.Errorf("%v (port-forward: %s)", err, pfOut.String())
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if string(body) != "skiff test image\n" {
			return fmt.Errorf("through port-forward: %q", body)
		}
		return nil
	})

	// Attach: kubectl run -i feeds the container's stdin.
	out, err := srv.KubectlStdin("hello\n", "run", "att", "-i", "--restart=Never", "--image="+images.Name, "--image-pull-policy=Never", "--", "sh", "-c", "read x; echo got:$x")
	if err != nil || !strings.Contains(out, "got:hello") {
		t.Fatalf("run -i: %v %q", err, out)
	}
	eventually(t, 20*time.Second, func() error {
		if out, _ := srv.Kubectl("logs", "att"); out != "got:hello\n" {
			return fmt.Errorf("logs att: %q", out)
		}
		return nil
	})
	// kubectl debug: an ephemeral container in the target's processes.
	k("debug", "talker", "--image="+images.Name, "--image-pull-policy=Never", "--target=main", "--container=dbg", "--profile=general", "--", "ps")
	eventually(t, 30*time.Second, func() error {
		out, _ := srv.Kubectl("logs", "talker", "-c", "dbg")
		if !strings.Contains(out, "httpd -f -p 8080") {
			return fmt.Errorf("ps in the debug container: %q", out)
		}
		if st, _ := srv.Kubectl("get", "pod", "talker", "-o", `jsonpath={.status.ephemeralContainerStatuses[0].name}={.status.ephemeralContainerStatuses[0].state.terminated.reason}`); st != "dbg=Completed" {
			return fmt.Errorf("ephemeral container status %q", st)
		}
		return nil
	})
}

// testProbesAndHooks checks startup, readiness and liveness probes and
// the postStart and preStop hooks on real containers.
func testProbesAndHooks(t testing.TB, srv *testserver.Server, hostDir string) {
	t.Helper()
	k := mustKubectl(t, srv)
	status := `jsonpath={.status.containerStatuses[0].started} {.status.containerStatuses[0].ready} {.status.conditions[?(@.type=="Ready")].status} {.status.containerStatuses[0].restartCount}`
	// Started (tcpSocket), not ready until the file the readiness probe
	// tests exists, alive as long as /healthz (made by postStart) serves.
	eventually(t, 30*time.Second, func() error {
		if out := k("get", "pod", "probed", "-o", status); out != "true false False 0" {
			return fmt.Errorf("probed: %q", out)
		}
		return nil
	})
	k("exec", "probed", "--", "touch", "/tmp/ready")
	eventually(t, 30*time.Second, func() error {
		if out := k("get", "pod", "probed", "-o", status); out != "true true True 0" {
			return fmt.Errorf("probed after touch: %q", out)
		}
		return nil
	})
	// Liveness fails: the container is restarted, not ready again until
	// its readiness probe passes in the new instance.
	k("exec", "probed", "--", "rm", "/var/www/healthz")
	eventually(t, 60*time.Second, func() error {
		out := k("get", "pod", "probed", "-o", `jsonpath={.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].lastState.terminated.exitCode}`)
		if f := strings.Fields(out); len(f) != 2 || f[0] == "0" {
			return fmt.Errorf("probed restarts: %q", out)
		}
		return nil
	})
	eventually(t, 30*time.Second, func() error {
		out := k("get", "events", "--field-selector", "involvedObject.name=probed", "-o", `jsonpath={range .items[*]}{.reason}: {.message}{"\n"}{end}`)
		for _, want := range []string{"Unhealthy: Liveness probe failed: HTTP probe failed with statuscode: 404", "Killing: Container main failed liveness probe, will be restarted", "Unhealthy: Readiness probe failed"} {
			if !strings.Contains(out, want) {
				return fmt.Errorf("events lack %q:\n%s", want, out)
			}
		}
		return nil
	})
	if out := k("get", "pod", "probed", "-o", `jsonpath={.status.containerStatuses[0].ready}`); out != "false" {
		t.Fatalf("restarted container ready before its readiness probe passed: %q", out)
	}

	// preStop runs before SIGTERM, within the grace period.
	k("wait", "--for=condition=Ready", "pod/hooked", "--timeout=60s")
	k("delete", "pod", "hooked", "--wait=true", "--timeout=60s")
	if b, err := os.ReadFile(filepath.Join(hostDir, "hooks")); err != nil || string(b) != "prestop\nterm\n" {
		t.Fatalf("hooks ran: %q (%v), want preStop then SIGTERM", b, err)
	}
}

// mustKubectl returns a kubectl against srv that fails the test on an
// error and returns the standard output (stderr only in failures).
func mustKubectl(t testing.TB, srv *testserver.Server) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		out, errOut, err := srv.KubectlOutput(args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
		}
		return out
	}
}
