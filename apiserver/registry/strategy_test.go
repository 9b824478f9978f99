package registry

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func deploymentResource() *Resource {
	return &Resource{
		GroupVersion: appsv1.SchemeGroupVersion, Name: "deployments", Kind: "Deployment", Namespaced: true, Status: true,
		New: func() runtime.Object { return &appsv1.Deployment{} },
	}
}

func replicas(n int32) *int32 { return &n }

func TestStrategySplitsSpecAndStatus(t *testing.T) {
	s := newStrategy(runtime.NewScheme(), deploymentResource())
	ctx := context.Background()

	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d"}, Spec: appsv1.DeploymentSpec{Replicas: replicas(1)}, Status: appsv1.DeploymentStatus{Replicas: 9}}
	s.PrepareForCreate(ctx, d)
	if d.Generation != 1 || d.Status.Replicas != 0 {
		t.Fatalf("after create: generation %d, status %+v", d.Generation, d.Status)
	}

	old := d.DeepCopy()
	old.Status.Replicas = 2
	upd := old.DeepCopy()
	upd.Status.Replicas = 7
	s.PrepareForUpdate(ctx, upd, old)
	if upd.Status.Replicas != 2 || upd.Generation != 1 {
		t.Errorf("status-only change through the main resource: status %d generation %d, want 2 and 1", upd.Status.Replicas, upd.Generation)
	}

	upd = old.DeepCopy()
	upd.Spec.Replicas = replicas(3)
	s.PrepareForUpdate(ctx, upd, old)
	if upd.Generation != 2 {
		t.Errorf("spec change: generation %d, want 2", upd.Generation)
	}

	st := statusStrategy{strategy: s}
	upd = old.DeepCopy()
	upd.Spec.Replicas = replicas(5)
	upd.Status.Replicas = 4
	upd.Labels = map[string]string{"changed": "yes"}
	st.PrepareForUpdate(ctx, upd, old)
	if *upd.Spec.Replicas != 1 || upd.Status.Replicas != 4 || upd.Labels != nil {
		t.Errorf("status update: spec.replicas %d status.replicas %d labels %v, want 1, 4, none", *upd.Spec.Replicas, upd.Status.Replicas, upd.Labels)
	}
	// The copy must not share memory with the old object.
	old.Spec.Replicas = replicas(8)
	if *upd.Spec.Replicas != 1 {
		t.Error("status update shares spec memory with the stored object")
	}
}

func TestStrategyValidatesMetadata(t *testing.T) {
	s := newStrategy(runtime.NewScheme(), deploymentResource())
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "Not_Valid", Namespace: "ns"}}
	errs := s.Validate(context.Background(), d)
	if len(errs) == 0 || errs[0].Field != "metadata.name" {
		t.Fatalf("errors %v, want one on metadata.name", errs)
	}
}
