package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/skiffhq/skiff/test/testserver"
)

// eventually retries f until it returns nil or the deadline passes.
// eventually polls f until it succeeds (testserver.Eventually).
var eventually = testserver.Eventually

// TestSimulatedCluster drives `skiff server --sim-nodes 3` with kubectl as
// a user would: a Deployment rolled out, updated and rolled back, a Job to
// completion, a CronJob firing, a DaemonSet on every node, a namespace
// deleted with its content, and a node going silent with its pods
// rescheduled elsewhere.
func TestSimulatedCluster(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t, "--sim-nodes", "3", "--node-monitor-grace-period", "3s")
	k := func(args ...string) string {
		t.Helper()
		out, err := srv.Kubectl(args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	apply := func(manifest string) {
		t.Helper()
		out, err := srv.KubectlStdin(manifest, "apply", "-f", "-")
		if err != nil {
			t.Fatalf("kubectl apply: %v\n%s", err, out)
		}
	}
	jsonpath := func(args ...string) string {
		t.Helper()
		out, _ := srv.Kubectl(args...)
		return strings.TrimSpace(out)
	}

	// Nodes register Ready with podCIDRs.
	eventually(t, 30*time.Second, func() error {
		out := jsonpath("get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status},{.spec.podCIDR} {end}`)
		for i := range 3 {
			if !strings.Contains(out, fmt.Sprintf("sim-%d=True,10.244.", i)) {
				return fmt.Errorf("nodes: %s", out)
			}
		}
		return nil
	})

	// The CronJob is created first: it fires at the next minute.
	apply(`apiVersion: batch/v1
kind: CronJob
metadata: {name: tick}
spec:
  schedule: "*/1 * * * *"
  jobTemplate:
    spec:
      template:
        metadata: {annotations: {sim.skiff.dev/exit-after: "200ms"}}
        spec:
          restartPolicy: Never
          containers: [{name: c, image: busybox}]
`)

	// Deployment: roll out, update, roll back.
	k("create", "deployment", "web", "--image=web:1", "--replicas=4")
	k("rollout", "status", "deployment/web", "--timeout=60s")
	k("set", "image", "deployment/web", "web=web:2")
	k("rollout", "status", "deployment/web", "--timeout=60s")
	if out := k("rollout", "history", "deployment/web"); !strings.Contains(out, "1 ") || !strings.Contains(out, "2 ") {
		t.Fatalf("rollout history:\n%s", out)
	}
	k("rollout", "undo", "deployment/web")
	k("rollout", "status", "deployment/web", "--timeout=60s")
	if img := jsonpath("get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); img != "web:1" {
		t.Fatalf("after undo the image is %q", img)
	}
	if rev := jsonpath("get", "deployment", "web", "-o", `jsonpath={.metadata.annotations.deployment\.kubernetes\.io/revision}`); rev != "3" {
		t.Fatalf("after undo the revision is %q, want 3", rev)
	}
	k("wait", "--for=condition=Available", "deployment/web", "--timeout=30s")

	// Job to completion.
	apply(`apiVersion: batch/v1
kind: Job
metadata: {name: work}
spec:
  completions: 3
  parallelism: 2
  template:
    metadata: {annotations: {sim.skiff.dev/exit-after: "300ms"}}
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
`)
	k("wait", "--for=condition=complete", "job/work", "--timeout=60s")
	if out := k("get", "job", "work"); !strings.Contains(out, "3/3") || !strings.Contains(out, "Complete") {
		t.Fatalf("job:\n%s", out)
	}

	// DaemonSet on every node.
	apply(`apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: c, image: agent}]}
`)
	k("rollout", "status", "daemonset/agent", "--timeout=60s")
	eventually(t, 30*time.Second, func() error {
		nodes := jsonpath("get", "pods", "-l", "app=agent", "-o", `jsonpath={range .items[?(@.status.phase=="Running")]}{.spec.nodeName} {end}`)
		for i := range 3 {
			if !strings.Contains(nodes, fmt.Sprintf("sim-%d", i)) {
				return fmt.Errorf("daemon pods running on %q; pods:\n%s\nstatus: %s", nodes,
					jsonpath("get", "pods", "-l", "app=agent", "-o", "wide"), jsonpath("get", "ds", "agent", "-o", "jsonpath={.status}"))
			}
		}
		return nil
	})

	// Namespace deletion empties the namespace.
	k("create", "namespace", "scratch")
	k("-n", "scratch", "create", "deployment", "tmp", "--image=tmp", "--replicas=2")
	k("-n", "scratch", "create", "configmap", "c", "--from-literal=a=b")
	k("-n", "scratch", "rollout", "status", "deployment/tmp", "--timeout=60s")
	k("delete", "namespace", "scratch", "--timeout=60s")
	if out, err := srv.Kubectl("get", "namespace", "scratch"); err == nil || !strings.Contains(out, "NotFound") {
		t.Fatalf("namespace still there: %s", out)
	}

	// A SIGKILL mid-rollout: after the restart the rollout resumes and
	// ends with exactly the wanted pods, none lost or doubled.
	k("set", "image", "deployment/web", "web=web:3")
	srv.KillAndRestart(t)
	k("rollout", "status", "deployment/web", "--timeout=60s")
	eventually(t, 30*time.Second, func() error {
		out := jsonpath("get", "pods", "-l", "app=web", "-o", `jsonpath={range .items[*]}{.spec.containers[0].image}/{.status.phase} {end}`)
		if f := strings.Fields(out); len(f) != 4 || strings.Count(out, "web:3/Running") != 4 {
			return fmt.Errorf("web pods after the restart: %s", out)
		}
		return nil
	})

	// A node goes silent: its pods are evicted and rescheduled elsewhere.
	apply(`apiVersion: apps/v1
kind: Deployment
metadata: {name: svc}
spec:
  replicas: 3
  selector: {matchLabels: {app: svc}}
  template:
    metadata: {labels: {app: svc}}
    spec:
      tolerations: [{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 1}]
      topologySpreadConstraints: [{maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, nodeTaintsPolicy: Honor, labelSelector: {matchLabels: {app: svc}}}]
      containers: [{name: c, image: svc}]
`)
	k("rollout", "status", "deployment/svc", "--timeout=60s")
	k("annotate", "node", "sim-2", "sim.skiff.dev/heartbeat=stopped")
	eventually(t, 30*time.Second, func() error {
		out := jsonpath("get", "node", "sim-2", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status} {.spec.taints[*].key}`)
		if !strings.HasPrefix(out, "Unknown") || !strings.Contains(out, "node.kubernetes.io/unreachable") {
			return fmt.Errorf("sim-2: %s", out)
		}
		return nil
	})
	eventually(t, 60*time.Second, func() error {
		out := jsonpath("get", "pods", "-l", "app=svc", "-o", `jsonpath={range .items[*]}{.spec.nodeName}/{.status.phase}/{.metadata.deletionTimestamp} {end}`)
		running, evicted := 0, 0
		for _, f := range strings.Fields(out) {
			parts := strings.SplitN(f, "/", 3)
			switch {
			case parts[0] == "sim-2" && parts[2] != "":
				evicted++
			case parts[0] != "sim-2" && parts[1] == "Running" && parts[2] == "":
				running++
			}
		}
		// A replacement may land on sim-2 too before it is evicted in turn
		// (the pods tolerate the unreachable taint for a second, which
		// also lets the scheduler pick the node, as upstream's).
		if running != 3 || evicted < 1 {
			return fmt.Errorf("svc pods: %s", out)
		}
		return nil
	})
	k("rollout", "status", "deployment/svc", "--timeout=30s")

	// The CronJob fired (within a minute of its creation) and its Job ran.
	eventually(t, 90*time.Second, func() error {
		out := jsonpath("get", "cronjob", "tick", "-o", "jsonpath={.status.lastScheduleTime} {.status.lastSuccessfulTime}")
		if len(strings.Fields(out)) != 2 {
			return fmt.Errorf("cronjob status: %q", out)
		}
		return nil
	})
	if out := k("get", "jobs", "-o", "name"); !strings.Contains(out, "job.batch/tick-") {
		t.Fatalf("no job from the CronJob: %s", out)
	}
}
