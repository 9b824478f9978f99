package v1

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func defaultedPod(mutate func(*corev1.Pod)) *corev1.Pod {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	mutate(pod)
	SetDefaultsPod(pod)
	return pod
}

func TestValidatePod(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   string // "" means valid
	}{
		{"valid", func(*corev1.Pod) {}, ""},
		{"no containers", func(p *corev1.Pod) { p.Spec.Containers = nil }, "spec.containers: Required value"},
		{"no image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" }, "spec.containers[0].image: Required value"},
		{"bad container name", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "Bad" }, "spec.containers[0].name: Invalid value"},
		{"duplicate container", func(p *corev1.Pod) { p.Spec.Containers = append(p.Spec.Containers, p.Spec.Containers[0]) }, "spec.containers[1].name: Duplicate value"},
		{"duplicate port", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80}, {ContainerPort: 80}}
		}, `spec.containers[0].ports[1]: Duplicate value: "80/TCP"`},
		{"same port other protocol", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 53}, {ContainerPort: 53, Protocol: corev1.ProtocolUDP}}
		}, ""},
		{"mount of unknown volume", func(p *corev1.Pod) {
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "v", MountPath: "/v"}}
		}, "spec.containers[0].volumeMounts[0].name: Not found"},
		{"bad restart policy", func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" }, "spec.restartPolicy: Unsupported value"},
		{"negative grace period", func(p *corev1.Pod) { v := int64(-1); p.Spec.TerminationGracePeriodSeconds = &v }, "spec.terminationGracePeriodSeconds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := ValidatePod(defaultedPod(tc.mutate))
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			if !strings.Contains(errs.ToAggregate().Error(), tc.want) {
				t.Fatalf("errors %v do not contain %q", errs, tc.want)
			}
		})
	}
}

func TestDefaultPullPolicy(t *testing.T) {
	for image, want := range map[string]corev1.PullPolicy{
		"busybox":                     corev1.PullAlways,
		"busybox:latest":              corev1.PullAlways,
		"busybox:1.36":                corev1.PullIfNotPresent,
		"registry:5000/busybox":       corev1.PullAlways,
		"registry:5000/busybox:1.0":   corev1.PullIfNotPresent,
		"busybox@sha256:0123456789ab": corev1.PullIfNotPresent,
	} {
		if got := defaultPullPolicy(image); got != want {
			t.Errorf("%s: %s, want %s", image, got, want)
		}
	}
}

func TestPodQOSClass(t *testing.T) {
	pod := defaultedPod(func(*corev1.Pod) {})
	if got := PodQOSClass(pod); got != corev1.PodQOSBestEffort {
		t.Errorf("no resources: %s", got)
	}
}
