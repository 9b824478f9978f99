package admission

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	schedulinglisters "k8s.io/client-go/listers/scheduling/v1"
	"k8s.io/client-go/tools/cache"
)

func podAttrs(pod *corev1.Pod) admission.Attributes {
	return admission.NewAttributesRecord(pod, nil, corev1.SchemeGroupVersion.WithKind("Pod"), "ns", pod.Name,
		corev1.SchemeGroupVersion.WithResource("pods"), "", admission.Create, &metav1.CreateOptions{}, false, &user.DefaultInfo{})
}

func TestTolerationSeconds(t *testing.T) {
	p := tolerationSeconds{admission.NewHandler(admission.Create)}
	own := int64(60)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Tolerations: []corev1.Toleration{
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &own},
	}}}
	if err := p.Admit(context.Background(), podAttrs(pod), nil); err != nil {
		t.Fatal(err)
	}
	if len(pod.Spec.Tolerations) != 2 || *pod.Spec.Tolerations[0].TolerationSeconds != 60 ||
		pod.Spec.Tolerations[1].Key != corev1.TaintNodeUnreachable || *pod.Spec.Tolerations[1].TolerationSeconds != 300 {
		t.Errorf("tolerations %+v", pod.Spec.Tolerations)
	}
}

func TestPriority(t *testing.T) {
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	never := corev1.PreemptNever
	_ = idx.Add(&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "batch"}, Value: 10, PreemptionPolicy: &never})
	_ = idx.Add(&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "normal"}, Value: 5, GlobalDefault: true})
	p := priority{admission.NewHandler(admission.Create), schedulinglisters.NewPriorityClassLister(idx)}

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a"}}
	if err := p.Admit(context.Background(), podAttrs(pod), nil); err != nil {
		t.Fatal(err)
	}
	if pod.Spec.PriorityClassName != "normal" || *pod.Spec.Priority != 5 || *pod.Spec.PreemptionPolicy != corev1.PreemptLowerPriority {
		t.Errorf("default class: %+v", pod.Spec)
	}
	pod = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: corev1.PodSpec{PriorityClassName: "batch"}}
	if err := p.Admit(context.Background(), podAttrs(pod), nil); err != nil {
		t.Fatal(err)
	}
	if *pod.Spec.Priority != 10 || *pod.Spec.PreemptionPolicy != corev1.PreemptNever {
		t.Errorf("named class: %+v", pod.Spec)
	}
	wrong := int32(99)
	pod = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Spec: corev1.PodSpec{PriorityClassName: "batch", Priority: &wrong}}
	if err := p.Admit(context.Background(), podAttrs(pod), nil); err == nil {
		t.Error("a pod with its own priority value was admitted")
	}
}
