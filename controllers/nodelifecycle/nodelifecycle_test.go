package nodelifecycle

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestEvictionTime(t *testing.T) {
	added := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	unreachable := corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &metav1.Time{Time: added}}
	tol := func(seconds *int64) corev1.Toleration {
		return corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: seconds}
	}
	cases := []struct {
		name      string
		tols      []corev1.Toleration
		wantEvict bool
		wantAt    time.Time
	}{
		{"no toleration: now", nil, true, time.Time{}},
		{"300 s default", []corev1.Toleration{tol(new(int64(300)))}, true, added.Add(300 * time.Second)},
		{"shortest of two", []corev1.Toleration{tol(new(int64(300))), tol(new(int64(5)))}, true, added.Add(5 * time.Second)},
		{"forever", []corev1.Toleration{tol(nil)}, false, time.Time{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{Tolerations: tc.tols}}
			at, evict := evictionTime(pod, []corev1.Taint{unreachable})
			if evict != tc.wantEvict || !at.Equal(tc.wantAt) {
				t.Fatalf("evictionTime = %s, %v; want %s, %v", at, evict, tc.wantAt, tc.wantEvict)
			}
		})
	}
}

func TestTaintsEqual(t *testing.T) {
	a := []corev1.Taint{{Key: "k", Effect: corev1.TaintEffectNoSchedule}, {Key: "x", Value: "1", Effect: corev1.TaintEffectNoExecute}}
	b := []corev1.Taint{{Key: "x", Value: "1", Effect: corev1.TaintEffectNoExecute}, {Key: "k", Effect: corev1.TaintEffectNoSchedule}}
	if !taintsEqual(a, b) {
		t.Fatal("order matters")
	}
	if taintsEqual(a, b[:1]) {
		t.Fatal("missing taint not noticed")
	}
}
