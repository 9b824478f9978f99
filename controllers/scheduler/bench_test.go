package scheduler

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// BenchmarkPlace1000Nodes is one scheduling decision, filter and score,
// over 1,000 nodes that already run 10 pods each (a Deployment's pods
// with requests, spread over the cluster).
func BenchmarkPlace1000Nodes(b *testing.B) {
	s := &Scheduler{cache: newCache()}
	for i := range 1000 {
		name := fmt.Sprintf("node-%d", i)
		s.cache.upsertNode(&corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name, corev1.LabelTopologyZone: fmt.Sprint("zone-", i%3)}},
			Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"),
				corev1.ResourceMemory: resource.MustParse("32Gi"), corev1.ResourcePods: resource.MustParse("110")}},
		})
		for j := range 10 {
			p := benchPod(fmt.Sprintf("p-%d-%d", i, j))
			p.Spec.NodeName = name
			s.cache.upsertPod(p)
		}
	}
	p := benchPod("new")
	b.ResetTimer()
	for b.Loop() {
		node, why, err := s.place(p)
		if err != nil || node == "" {
			b.Fatalf("not placed: %q %v", why, err)
		}
	}
}

func benchPod(name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name), Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{SchedulerName: Name, Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}}}}}}
}
