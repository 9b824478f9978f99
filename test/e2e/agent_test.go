package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiffhq/skiff/kubelet/network"
	"github.com/skiffhq/skiff/test/images"
	"github.com/skiffhq/skiff/test/testserver"
)

// testJoinedAgent joins a second node with `skiff agent` (its own data
// dir, containerd, bridge and agent port), runs a DaemonSet's pods on
// both nodes, reaches the agent's pod through the API server, and checks
// that the agent's identity is limited to its own node.
func testJoinedAgent(t testing.TB, srv *testserver.Server, serverNode, bridge string) {
	t.Helper()
	bin, err := testserver.Binary()
	if err != nil {
		t.Fatal(err)
	}
	k := mustKubectl(t, srv)
	server := fmt.Sprintf("https://127.0.0.1:%d", srv.Port)
	dir := t.TempDir()

	// A wrong token is refused before anything is sent with it.
	out, err := exec.Command(bin, "agent", "--server", server, "--token", "not-the-token", "--data-dir", filepath.Join(dir, "bad"), "--runtime", "sim").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "the server's CA does not match the join token") {
		t.Fatalf("agent with a wrong token: %v\n%s", err, out)
	}

	port, err := testserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dnsPort, err := testserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	node := fmt.Sprintf("joined-%d", os.Getpid()%100000)
	agentDir := filepath.Join(dir, "agent")
	testserver.ReapContainers(t, agentDir)
	if err := os.MkdirAll(filepath.Join(agentDir, "images"), 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(agentDir, "images", "test-image.tar"))
	if err != nil {
		t.Fatal(err)
	}
	if err := images.Build(f, "/bin/busybox"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	log, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		t.Fatal(err)
	}
	agent := exec.Command(bin, "agent", "--server", server, "--token-file", filepath.Join(srv.DataDir, "token"), "--data-dir", agentDir,
		"--node-name", node, "--pod-bridge", bridge, "--kubelet-port", fmt.Sprint(port), "--cluster-dns-port", fmt.Sprint(dnsPort))
	agent.Stdout, agent.Stderr = log, log
	agent.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = agent.Process.Signal(syscall.SIGTERM)
		_ = agent.Wait()
	}
	t.Cleanup(func() {
		// Remove what runs on the joined node while its agent still can.
		_, _ = srv.Kubectl("delete", "daemonset", "everywhere", "--ignore-not-found", "--wait=true", "--timeout=60s")
		stop()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("--- agent log ---\n%s", b)
		}
	})

	eventually(t, 60*time.Second, func() error {
		out, _ := srv.Kubectl("get", "node", node, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status} {.spec.podCIDR} {.status.nodeInfo.containerRuntimeVersion} {.status.daemonEndpoints.kubeletEndpoint.Port}`)
		if !strings.HasPrefix(out, "True 10.252.") || !strings.Contains(out, "containerd://") || !strings.HasSuffix(out, fmt.Sprint(port)) {
			return fmt.Errorf("joined node: %q", out)
		}
		return nil
	})
	manifest := fmt.Sprintf(`apiVersion: apps/v1
kind: DaemonSet
metadata: {name: everywhere}
spec:
  selector: {matchLabels: {app: everywhere}}
  template:
    metadata: {labels: {app: everywhere}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - {name: main, image: %s, command: [sh, -c, 'echo on $(hostname); exec httpd -f -p 8080 -h /var/www']}
`, images.Name)
	if out, err := srv.KubectlStdin(manifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	k("rollout", "status", "daemonset/everywhere", "--timeout=60s")
	pod := strings.TrimSpace(k("get", "pods", "-l", "app=everywhere", "--field-selector", "spec.nodeName="+node, "-o", "jsonpath={.items[*].metadata.name}"))
	if pod == "" || strings.Contains(pod, " ") {
		t.Fatalf("pods on the joined node: %q", pod)
	}
	if out := k("get", "pods", "-l", "app=everywhere", "-o", "jsonpath={.items[*].spec.nodeName}"); len(strings.Fields(out)) != 2 {
		t.Fatalf("daemon set pods on nodes %q, want both", out)
	}
	eventually(t, 20*time.Second, func() error {
		if out, _ := srv.Kubectl("logs", pod); out != "on "+pod+"\n" {
			return fmt.Errorf("logs of the joined node's pod: %q", out)
		}
		return nil
	})
	if out := k("exec", pod, "--", "cat", "/var/run/secrets/kubernetes.io/serviceaccount/namespace"); out != "default" {
		t.Fatalf("exec on the joined node: %q", out)
	}
	// Pods of the two nodes (two bridges) reach each other.
	other := strings.TrimSpace(k("get", "pods", "-l", "app=everywhere", "--field-selector", "spec.nodeName!="+node, "-o", "jsonpath={.items[0].status.podIP}"))
	mine := strings.TrimSpace(k("get", "pod", pod, "-o", "jsonpath={.status.podIP}"))
	otherPod := strings.TrimSpace(k("get", "pods", "-l", "app=everywhere", "--field-selector", "spec.nodeName!="+node, "-o", "jsonpath={.items[0].metadata.name}"))
	for from, to := range map[string]string{pod: other, otherPod: mine} {
		if out := k("exec", from, "--", "wget", "-qO-", "http://"+to+":8080/index.html"); out != "skiff test image\n" {
			t.Fatalf("from %s to %s: %q", from, to, out)
		}
	}

	// The agent's credentials: its own node only.
	agentKubectl := func(args ...string) (string, error) {
		out, err := exec.Command("kubectl", append([]string{"--kubeconfig", filepath.Join(agentDir, "kubelet.kubeconfig")}, args...)...).CombinedOutput()
		return string(out), err
	}
	if out, err := agentKubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}/{.status.userInfo.groups}"); err != nil || !strings.HasPrefix(out, "system:node:"+node+"/") || !strings.Contains(out, "system:nodes") {
		t.Fatalf("agent identity: %q %v", out, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"label", "node", serverNode, "x=y"}, fmt.Sprintf("node %q is not allowed to modify node", node)},
		{[]string{"get", "secret", "-n", "kube-system", "--no-headers"}, "can only get individual secrets"},
		{[]string{"run", "intruder", "--image=" + images.Name}, "can only create mirror pods"},
	} {
		if out, err := agentKubectl(tc.args...); err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("agent kubectl %s: %v %q, want %q", strings.Join(tc.args, " "), err, out, tc.want)
		}
	}
	if _, err := agentKubectl("label", "node", node, "joined=yes"); err != nil {
		t.Errorf("the agent may label its own node: %v", err)
	}

	// The agent stops with its pod running; --cleanup then removes what
	// the node ran from the machine.
	stop()
	if out, err := exec.Command(bin, "agent", "--cleanup", "--data-dir", agentDir, "--pod-bridge", bridge).CombinedOutput(); err != nil {
		t.Fatalf("skiff agent --cleanup: %v\n%s", err, out)
	}
	for _, sub := range []string{"pods", "netns", "volumes"} {
		if entries, _ := os.ReadDir(filepath.Join(agentDir, "agent", sub)); len(entries) != 0 {
			t.Fatalf("left in %s after --cleanup: %v", sub, entries)
		}
	}
	if _, err := net.InterfaceByName(bridge); err == nil {
		t.Fatalf("bridge %s left after --cleanup", bridge)
	}
	for _, table := range []string{network.TableName(bridge), network.ServicesTableName(bridge)} {
		if out, err := exec.Command("nft", "list", "table", "ip", table).CombinedOutput(); err == nil {
			t.Fatalf("nftables table %s left after --cleanup:\n%s", table, out)
		}
	}
	k("delete", "daemonset", "everywhere", "--wait=false")
	k("delete", "pod", pod, "--grace-period=0", "--force")
	k("delete", "node", node)
}
