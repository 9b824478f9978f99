package disruption

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func pod(name string, ready, deleting bool) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}
	if deleting {
		p.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	}
	return p
}

// Evictions are kept while their pods are there, not being deleted, and
// younger than DeletionTimeout; the kept ones do not count as healthy.
func TestDisruptedPodsAndHealthy(t *testing.T) {
	now := time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC)
	pods := []*corev1.Pod{pod("a", true, false), pod("b", true, false), pod("c", true, true), pod("d", false, false), pod("e", true, false)}
	pdb := &policyv1.PodDisruptionBudget{Status: policyv1.PodDisruptionBudgetStatus{DisruptedPods: map[string]metav1.Time{
		"a":    metav1.NewTime(now.Add(-30 * time.Second)), // kept: 90 s left
		"b":    metav1.NewTime(now.Add(-3 * time.Minute)),  // expired
		"c":    metav1.NewTime(now.Add(-10 * time.Second)), // its pod is being deleted
		"gone": metav1.NewTime(now.Add(-10 * time.Second)), // its pod is gone
	}}}
	kept, recheck := disruptedPods(pdb, pods, now)
	if len(kept) != 1 || !kept["a"].Time.Equal(now.Add(-30*time.Second)) || recheck != 90*time.Second {
		t.Errorf("kept %v, recheck %s; want only a, in 90s", kept, recheck)
	}
	// b and e: ready, not deleting, not evicted; a is evicted, c deleting, d not ready.
	if n := healthy(pods, kept); n != 2 {
		t.Errorf("healthy = %d, want 2", n)
	}
	if kept, recheck := disruptedPods(&policyv1.PodDisruptionBudget{}, pods, now); kept != nil || recheck != 0 {
		t.Errorf("no evictions: %v %s", kept, recheck)
	}
}
