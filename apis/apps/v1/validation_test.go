package v1

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func deployment(mutate func(*appsv1.Deployment)) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "d"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "a"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "a"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
			},
		},
	}
	mutate(d)
	SetDefaultsDeployment(d)
	return d
}

func TestDeploymentDefaults(t *testing.T) {
	d := deployment(func(*appsv1.Deployment) {})
	if *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType ||
		d.Spec.Strategy.RollingUpdate.MaxSurge.String() != "25%" || d.Spec.Strategy.RollingUpdate.MaxUnavailable.String() != "25%" ||
		*d.Spec.RevisionHistoryLimit != 10 || *d.Spec.ProgressDeadlineSeconds != 600 {
		t.Errorf("defaults: %+v", d.Spec)
	}
	recreate := deployment(func(d *appsv1.Deployment) { d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType })
	if recreate.Spec.Strategy.RollingUpdate != nil {
		t.Error("Recreate got rollingUpdate defaults")
	}
}

func TestValidateDeployment(t *testing.T) {
	zero := intstr.FromInt32(0)
	cases := []struct {
		name   string
		mutate func(*appsv1.Deployment)
		want   string
	}{
		{"valid", func(*appsv1.Deployment) {}, ""},
		{"no selector", func(d *appsv1.Deployment) { d.Spec.Selector = nil }, "spec.selector: Required value"},
		{"selector mismatch", func(d *appsv1.Deployment) { d.Spec.Template.Labels = map[string]string{"app": "b"} }, "`selector` does not match template `labels`"},
		{"negative replicas", func(d *appsv1.Deployment) { n := int32(-1); d.Spec.Replicas = &n }, "spec.replicas: Invalid value: -1"},
		{"restartPolicy Never", func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever }, `spec.template.spec.restartPolicy: Unsupported value: "Never"`},
		{"surge and unavailable both zero", func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &zero, MaxUnavailable: &zero}
		}, "may not be 0 when `maxSurge` is 0"},
		{"recreate with rollingUpdate", func(d *appsv1.Deployment) {
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{}}
		}, "may not be specified when strategy `type` is 'Recreate'"},
		{"progress deadline below minReadySeconds", func(d *appsv1.Deployment) {
			p := int32(5)
			d.Spec.ProgressDeadlineSeconds = &p
			d.Spec.MinReadySeconds = 10
		}, "must be greater than minReadySeconds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := ValidateDeployment(deployment(tc.mutate))
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected: %v", errs)
				}
				return
			}
			if !strings.Contains(errs.ToAggregate().Error(), tc.want) {
				t.Fatalf("errors %v do not contain %q", errs, tc.want)
			}
		})
	}
}

func TestValidateStatefulSetUpdate(t *testing.T) {
	ss := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Spec: appsv1.StatefulSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "a"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "a"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}},
		ServiceName: "s",
	}}
	SetDefaultsStatefulSet(ss)
	scaled := ss.DeepCopy()
	n := int32(5)
	scaled.Spec.Replicas = &n
	if errs := ValidateStatefulSetUpdate(scaled, ss); len(errs) > 0 {
		t.Errorf("scaling: %v", errs)
	}
	renamed := ss.DeepCopy()
	renamed.Spec.ServiceName = "other"
	if errs := ValidateStatefulSetUpdate(renamed, ss); len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), "updates to statefulset spec for fields other than") {
		t.Errorf("changing serviceName: %v", errs)
	}
}

func TestValidateDeploymentStatus(t *testing.T) {
	d := deployment(func(*appsv1.Deployment) {})
	d.Status = appsv1.DeploymentStatus{Replicas: 3, ReadyReplicas: 2, AvailableReplicas: 2, UpdatedReplicas: 3}
	if errs := ValidateDeploymentStatus(d); len(errs) > 0 {
		t.Errorf("valid status: %v", errs)
	}
	d.Status.AvailableReplicas = 3
	d.Status.UpdatedReplicas = -1
	errs := ValidateDeploymentStatus(d).ToAggregate().Error()
	for _, want := range []string{"status.availableReplicas: Invalid value: 3: cannot be greater than status.readyReplicas", "status.updatedReplicas: Invalid value: -1"} {
		if !strings.Contains(errs, want) {
			t.Errorf("errors %q lack %q", errs, want)
		}
	}
}
