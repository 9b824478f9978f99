package kubelet

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestProbeCounterThresholds(t *testing.T) {
	var c probeCounter
	steps := []struct {
		ok      bool
		want    probeResult
		changed bool
	}{
		{false, resultUnknown, false}, // 1 of 3 failures
		{true, resultUnknown, false},  // 1 of 2 successes
		{true, resultSuccess, true},   // 2 of 2
		{false, resultSuccess, false}, // failures restart counting
		{false, resultSuccess, false},
		{false, resultFailure, true}, // 3 of 3
		{true, resultFailure, false},
		{true, resultSuccess, true},
	}
	for i, s := range steps {
		changed := c.observe(s.ok, 2, 3)
		if c.result != s.want || changed != s.changed {
			t.Fatalf("step %d: result %d changed %v, want %d %v", i, c.result, changed, s.want, s.changed)
		}
	}
}

func TestProbesDecideStartedAndReady(t *testing.T) {
	pod := testPod(corev1.RestartPolicyAlways)
	pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{}
	pod.Spec.Containers[0].StartupProbe = &corev1.Probe{}
	results := map[probeKind]probeResult{}
	in := statusInput{
		states: map[string]ContainerState{"app": running(0), "side": running(0)},
		probe: func(c *corev1.Container, _ string, kind probeKind) probeResult {
			if containerProbes(c)[kind] == nil {
				return resultSuccess
			}
			return results[kind]
		},
	}
	check := func(wantStarted, wantReady, podReady bool) {
		t.Helper()
		st := podStatus(pod, in)
		cs := st.ContainerStatuses[0]
		if *cs.Started != wantStarted || cs.Ready != wantReady {
			t.Fatalf("app started=%v ready=%v, want %v %v", *cs.Started, cs.Ready, wantStarted, wantReady)
		}
		for _, c := range st.Conditions {
			if c.Type == corev1.PodReady && (c.Status == corev1.ConditionTrue) != podReady {
				t.Fatalf("pod Ready %s, want %v", c.Status, podReady)
			}
		}
	}
	check(false, false, false)
	results[startup] = resultSuccess
	check(true, false, false)
	results[readiness] = resultSuccess
	check(true, true, true)
	results[readiness] = resultFailure
	check(true, false, false)
}
