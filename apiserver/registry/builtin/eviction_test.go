package builtin

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// A budget the disruption controller has not processed since its last
// change refuses evictions (429) whatever its status says; a processed one
// lets one through per allowed disruption, recording it.
func TestTakeDisruption(t *testing.T) {
	ctx := context.Background()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a"}}
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "budget", Generation: 2},
		Status: policyv1.PodDisruptionBudgetStatus{ObservedGeneration: 1, DisruptionsAllowed: 1, DesiredHealthy: 1, CurrentHealthy: 2}}
	client := fake.NewClientset(pdb)
	r := &evictionREST{client: client}
	err := r.takeDisruption(ctx, pdb, pod, nil)
	if !apierrors.IsTooManyRequests(err) || len(err.(apierrors.APIStatus).Status().Details.Causes) != 1 ||
		err.(apierrors.APIStatus).Status().Details.Causes[0].Message != "The disruption budget budget is still being processed by the server." {
		t.Fatalf("an unprocessed budget: %v", err)
	}

	pdb.Status.ObservedGeneration = 2
	if _, err := client.PolicyV1().PodDisruptionBudgets("ns").UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := r.takeDisruption(ctx, pdb, pod, nil); err != nil {
		t.Fatalf("a processed budget allowing one: %v", err)
	}
	got, _ := client.PolicyV1().PodDisruptionBudgets("ns").Get(ctx, "budget", metav1.GetOptions{})
	if _, recorded := got.Status.DisruptedPods["a"]; got.Status.DisruptionsAllowed != 0 || !recorded {
		t.Errorf("after the eviction: %+v", got.Status)
	}
	if err := r.takeDisruption(ctx, pdb, pod, nil); !apierrors.IsTooManyRequests(err) {
		t.Errorf("a budget allowing none: %v", err)
	}
}
