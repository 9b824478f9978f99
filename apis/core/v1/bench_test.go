package v1

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// benchPod is a typical Deployment pod: two containers with ports,
// resources, probes, environment and volume mounts.
func benchPod() *corev1.Pod {
	c := corev1.Container{Name: "web", Image: "registry.example.com/web:1.2.3",
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		Env:   []corev1.EnvVar{{Name: "MODE", Value: "prod"}, {Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
			Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")}},
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}}},
		VolumeMounts:   []corev1.VolumeMount{{Name: "config", MountPath: "/etc/web"}},
	}
	sidecar := corev1.Container{Name: "log", Image: "registry.example.com/log:2", Args: []string{"--follow"}}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-5d8f7-abcde", Namespace: "default", Labels: map[string]string{"app": "web", "pod-template-hash": "5d8f7"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{c, sidecar},
			Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "web"}}}}}}}
}

// BenchmarkDefaultAndValidatePod is the defaulting and validation of a
// pod's create.
func BenchmarkDefaultAndValidatePod(b *testing.B) {
	for b.Loop() {
		p := benchPod()
		SetDefaultsPod(p)
		if errs := ValidatePod(p); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}

// BenchmarkValidateConfigMap is a ConfigMap's create validation.
func BenchmarkValidateConfigMap(b *testing.B) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: "default"}, Data: map[string]string{"a": "1", "b.yaml": "x: y\n"}}
	for b.Loop() {
		if errs := ValidateConfigMap(cm); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}
