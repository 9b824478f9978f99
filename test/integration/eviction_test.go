package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiffhq/skiff/test/testserver"
)

// TestEviction checks pods/eviction against a PodDisruptionBudget.
func TestEviction(t *testing.T) {
	srv := testserver.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	n := ns(t, c)
	for _, name := range []string{"a", "b"} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "ev"}},
			Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
		created, err := c.CoreV1().Pods(n).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		created.Status.Phase = corev1.PodRunning
		created.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		if _, err := c.CoreV1().Pods(n).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	minAvailable := intstr.FromInt32(1)
	pdb, err := c.PolicyV1().PodDisruptionBudgets(n).Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "pdb"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &minAvailable, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "ev"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	evict := func(name string) error {
		return c.PolicyV1().Evictions(n).Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: n}})
	}
	// The disruption controller works the budget out: two ready pods, one
	// of which must stay.
	waitFor(t, 30*time.Second, "the disruption controller to process the budget", func() (bool, error) {
		got, err := c.PolicyV1().PodDisruptionBudgets(n).Get(ctx, pdb.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		st := got.Status
		return st.ObservedGeneration == got.Generation && st.ExpectedPods == 2 && st.CurrentHealthy == 2 && st.DesiredHealthy == 1 && st.DisruptionsAllowed == 1, nil
	})
	if err := evict("a"); err != nil {
		t.Fatalf("eviction within the budget: %v", err)
	}
	a, err := c.CoreV1().Pods(n).Get(ctx, "a", metav1.GetOptions{})
	if err != nil || a.DeletionTimestamp == nil {
		t.Errorf("evicted pod not being deleted: %v %v", err, a)
	}
	// Whether or not the controller has seen the eviction yet, nothing
	// more is allowed: the eviction recorded it, or a is going.
	got, _ := c.PolicyV1().PodDisruptionBudgets(n).Get(ctx, "pdb", metav1.GetOptions{})
	if got.Status.DisruptionsAllowed != 0 {
		t.Errorf("budget after the eviction: %+v", got.Status)
	}
	err = evict("b")
	if !apierrors.IsTooManyRequests(err) || !strings.Contains(err.Error(), "Cannot evict pod as it would violate the pod's disruption budget.") {
		t.Errorf("eviction beyond the budget: %v, want 429", err)
	}
	if err := evict("missing"); !apierrors.IsNotFound(err) {
		t.Errorf("evicting a missing pod: %v", err)
	}
}
