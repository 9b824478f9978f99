package fieldselector

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestRegister(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	gvk := corev1.SchemeGroupVersion.WithKind("Pod")
	err := Register(scheme, gvk, &corev1.Pod{}, func(runtime.Object) fields.Set { return fields.Set{"spec.nodeName": ""} })
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		label string
		ok    bool
	}{{"spec.nodeName", true}, {"metadata.name", true}, {"metadata.namespace", true}, {"spec.bogus", false}} {
		_, _, err := scheme.ConvertFieldLabel(gvk, tc.label, "x")
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.label, err, tc.ok)
		}
	}
}
