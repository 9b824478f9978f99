package kubelet

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func testPod(policy corev1.RestartPolicy, inits ...string) *corev1.Pod {
	p := &corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: policy, Containers: []corev1.Container{{Name: "app"}, {Name: "side"}}}}
	p.Name, p.Namespace, p.UID = "p", "ns", "uid-1"
	for _, n := range inits {
		p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: n})
	}
	return p
}

func running(attempt int32) ContainerState {
	return ContainerState{ID: "sim://1", Attempt: attempt, StartedAt: t0}
}

func exited(code, attempt int32, at time.Time) ContainerState {
	return ContainerState{ID: "sim://1", Attempt: attempt, StartedAt: t0, Exited: true, ExitCode: code, FinishedAt: at}
}

func names(p plan) string {
	var out []string
	for _, a := range p.start {
		out = append(out, a.container.Name)
	}
	return strings.Join(out, ",")
}

func TestPlanPod(t *testing.T) {
	now := t0.Add(time.Minute)
	cases := []struct {
		name      string
		pod       *corev1.Pod
		states    map[string]ContainerState
		wantStart string
		wantWait  time.Duration
	}{
		{"fresh pod starts first init only", testPod(corev1.RestartPolicyAlways, "i1", "i2"), nil, "i1", 0},
		{"init running blocks", testPod(corev1.RestartPolicyAlways, "i1", "i2"), map[string]ContainerState{"i1": running(0)}, "", 0},
		{"next init after success", testPod(corev1.RestartPolicyAlways, "i1", "i2"), map[string]ContainerState{"i1": exited(0, 0, t0)}, "i2", 0},
		{"all init done starts app containers", testPod(corev1.RestartPolicyAlways, "i1"), map[string]ContainerState{"i1": exited(0, 0, t0)}, "app,side", 0},
		{"failed init never restarts under Never", testPod(corev1.RestartPolicyNever, "i1"), map[string]ContainerState{"i1": exited(1, 0, t0)}, "", 0},
		{"failed init restarts after back-off", testPod(corev1.RestartPolicyOnFailure, "i1"), map[string]ContainerState{"i1": exited(1, 0, t0)}, "i1", 0},
		{"back-off still running", testPod(corev1.RestartPolicyAlways), map[string]ContainerState{"app": exited(0, 2, now.Add(-5*time.Second)), "side": running(0)}, "", 15 * time.Second},
		{"first exit restarts at once", testPod(corev1.RestartPolicyAlways), map[string]ContainerState{"app": exited(1, 0, now), "side": running(0)}, "app", 0},
		{"OnFailure leaves a success alone", testPod(corev1.RestartPolicyOnFailure), map[string]ContainerState{"app": exited(0, 0, t0), "side": running(0)}, "", 0},
		{"Never leaves a failure alone", testPod(corev1.RestartPolicyNever), map[string]ContainerState{"app": exited(2, 0, t0), "side": running(0)}, "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := planPod(tc.pod, tc.states, now)
			if got := names(p); got != tc.wantStart {
				t.Fatalf("starts %q, want %q", got, tc.wantStart)
			}
			if tc.wantWait > 0 {
				if got := p.requeue.Sub(now); got != tc.wantWait {
					t.Fatalf("requeue in %s, want %s", got, tc.wantWait)
				}
			}
		})
	}
}

func TestBackOff(t *testing.T) {
	for attempt, want := range map[int32]time.Duration{0: 0, 1: 10 * time.Second, 2: 20 * time.Second, 4: 80 * time.Second, 6: 5 * time.Minute, 40: 5 * time.Minute} {
		if got := backOff(attempt); got != want {
			t.Errorf("backOff(%d) = %s, want %s", attempt, got, want)
		}
	}
}

func TestPodPhase(t *testing.T) {
	cases := []struct {
		name        string
		pod         *corev1.Pod
		states      map[string]ContainerState
		terminating bool
		want        corev1.PodPhase
	}{
		{"nothing started", testPod(corev1.RestartPolicyAlways), nil, false, corev1.PodPending},
		{"init running", testPod(corev1.RestartPolicyAlways, "i"), map[string]ContainerState{"i": running(0)}, false, corev1.PodPending},
		{"all running", testPod(corev1.RestartPolicyAlways), map[string]ContainerState{"app": running(0), "side": running(0)}, false, corev1.PodRunning},
		{"one of two started", testPod(corev1.RestartPolicyAlways), map[string]ContainerState{"app": running(0)}, false, corev1.PodPending},
		{"Never all succeeded", testPod(corev1.RestartPolicyNever), map[string]ContainerState{"app": exited(0, 0, t0), "side": exited(0, 0, t0)}, false, corev1.PodSucceeded},
		{"Never one failed", testPod(corev1.RestartPolicyNever), map[string]ContainerState{"app": exited(0, 0, t0), "side": exited(1, 0, t0)}, false, corev1.PodFailed},
		{"OnFailure all succeeded", testPod(corev1.RestartPolicyOnFailure), map[string]ContainerState{"app": exited(0, 0, t0), "side": exited(0, 0, t0)}, false, corev1.PodSucceeded},
		{"OnFailure one failed restarts", testPod(corev1.RestartPolicyOnFailure), map[string]ContainerState{"app": exited(0, 0, t0), "side": exited(1, 0, t0)}, false, corev1.PodRunning},
		{"Always all exited restarts", testPod(corev1.RestartPolicyAlways), map[string]ContainerState{"app": exited(0, 0, t0), "side": exited(0, 0, t0)}, false, corev1.PodRunning},
		{"Always deleted cleanly", testPod(corev1.RestartPolicyAlways), map[string]ContainerState{"app": exited(0, 0, t0), "side": exited(0, 0, t0)}, true, corev1.PodSucceeded},
		{"Always deleted with a failure", testPod(corev1.RestartPolicyAlways), map[string]ContainerState{"app": exited(137, 0, t0), "side": exited(0, 0, t0)}, true, corev1.PodFailed},
		{"init failed under Never", testPod(corev1.RestartPolicyNever, "i"), map[string]ContainerState{"i": exited(1, 0, t0)}, false, corev1.PodFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := podPhase(tc.pod, tc.states, plan{}, tc.terminating); got != tc.want {
				t.Fatalf("phase %s, want %s", got, tc.want)
			}
		})
	}
}

func condition(s corev1.PodStatus, t corev1.PodConditionType) corev1.PodCondition {
	for _, c := range s.Conditions {
		if c.Type == t {
			return c
		}
	}
	return corev1.PodCondition{}
}

func TestPodStatus(t *testing.T) {
	pod := testPod(corev1.RestartPolicyAlways, "i")
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}
	in := statusInput{now: t0, sandbox: true, podIPs: []string{"10.244.0.2"}, hostIPs: []string{"172.30.0.1"},
		states: map[string]ContainerState{"i": running(0)}}
	s := podStatus(pod, in)
	if s.Phase != corev1.PodPending || s.PodIP != "10.244.0.2" || s.HostIP != "172.30.0.1" {
		t.Fatalf("status %+v", s)
	}
	if c := condition(s, corev1.PodInitialized); c.Status != corev1.ConditionFalse || c.Reason != "ContainersNotInitialized" || c.Message != "containers with incomplete status: [i]" {
		t.Fatalf("Initialized = %+v", c)
	}
	if w := s.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "PodInitializing" {
		t.Fatalf("app waiting = %+v", w)
	}
	if c := condition(s, corev1.PodScheduled); c.Status != corev1.ConditionTrue {
		t.Fatalf("PodScheduled lost: %+v", s.Conditions)
	}

	// Init done, app running, side not started yet.
	pod.Status = s
	in.now = t0.Add(time.Second)
	in.states = map[string]ContainerState{"i": exited(0, 0, t0), "app": running(0)}
	s = podStatus(pod, in)
	if c := condition(s, corev1.PodReady); c.Status != corev1.ConditionFalse || c.Message != "containers with unready status: [side]" {
		t.Fatalf("Ready = %+v", c)
	}
	if c := condition(s, corev1.PodReadyToStartContainers); !c.LastTransitionTime.Time.Equal(t0) {
		t.Fatalf("unchanged condition's transition time moved: %+v", c)
	}
	if w := s.ContainerStatuses[1].State.Waiting; w == nil || w.Reason != "ContainerCreating" {
		t.Fatalf("side waiting = %+v", w)
	}

	// Everything running: Ready.
	pod.Status = s
	in.states["side"] = running(0)
	s = podStatus(pod, in)
	if s.Phase != corev1.PodRunning || condition(s, corev1.PodReady).Status != corev1.ConditionTrue || !s.ContainerStatuses[1].Ready {
		t.Fatalf("not ready: %+v", s)
	}

	// A readiness gate keeps it not Ready.
	pod.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}}
	s = podStatus(pod, in)
	if c := condition(s, corev1.PodReady); c.Status != corev1.ConditionFalse || c.Reason != "ReadinessGatesNotReady" {
		t.Fatalf("gate ignored: %+v", c)
	}
}

func TestTruncateTimesMatchesStoredStatus(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, 11, 27, 1, 2, 3, 456789, time.UTC))
	st := corev1.PodStatus{
		StartTime:  &at,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, LastTransitionTime: at}},
		ContainerStatuses: []corev1.ContainerStatus{{
			State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: at}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{StartedAt: at, FinishedAt: at}},
		}},
	}
	truncateTimes(&st)
	// What the API server stores and sends back: RFC 3339, whole seconds.
	raw, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var stored corev1.PodStatus
	if err := json.Unmarshal(raw, &stored); err != nil {
		t.Fatal(err)
	}
	if !apiequality.Semantic.DeepEqual(st, stored) {
		t.Fatalf("truncated status differs from its stored form:\n%+v\n%+v", st, stored)
	}
	if got := st.ContainerStatuses[0].State.Running.StartedAt.Nanosecond(); got != 0 {
		t.Fatalf("startedAt keeps %d ns", got)
	}
}

func TestRestartDelayResetsAfterALongRun(t *testing.T) {
	short := ContainerState{Attempt: 5, StartedAt: t0, FinishedAt: t0.Add(time.Minute), Exited: true}
	long := ContainerState{Attempt: 5, StartedAt: t0, FinishedAt: t0.Add(11 * time.Minute), Exited: true}
	if got := restartDelay(short); got != backOff(5) {
		t.Fatalf("short run waits %s, want %s", got, backOff(5))
	}
	if got := restartDelay(long); got != 0 {
		t.Fatalf("a container that ran 11 minutes waits %s, want an immediate restart", got)
	}
}
