package internalversion

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestRegisterConvertsByCopy(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := Register(scheme, corev1.SchemeGroupVersion); err != nil {
		t.Fatal(err)
	}
	internal := schema.GroupVersion{Version: runtime.APIVersionInternal}
	if !scheme.Recognizes(internal.WithKind("Pod")) {
		t.Fatal("Pod not registered in the internal version")
	}
	if scheme.Recognizes(internal.WithKind("DeleteOptions")) {
		t.Fatal("meta/v1 DeleteOptions must not be registered in the internal version")
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{NodeName: "n"}}
	out, err := scheme.ConvertToVersion(pod, internal)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*corev1.Pod)
	if got.Name != "p" || got.Spec.NodeName != "n" {
		t.Fatalf("conversion lost data: %+v", got)
	}
	// Internal objects carry no type meta.
	if gvk := got.GetObjectKind().GroupVersionKind(); !gvk.Empty() {
		t.Fatalf("kind = %v, want empty for the internal version", gvk)
	}
	back, err := scheme.ConvertToVersion(got, corev1.SchemeGroupVersion)
	if err != nil {
		t.Fatal(err)
	}
	if gvk := back.GetObjectKind().GroupVersionKind(); gvk != corev1.SchemeGroupVersion.WithKind("Pod") {
		t.Fatalf("kind = %v, want v1 Pod", gvk)
	}
}
