package fieldselector

import (
	"fmt"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Register accepts metadata.name, metadata.namespace and the keys that
// fieldsOf returns for example as field selector labels of gvk.
func Register(scheme *runtime.Scheme, gvk schema.GroupVersionKind, example runtime.Object, fieldsOf func(runtime.Object) fields.Set) error {
	allowed := map[string]bool{"metadata.name": true, "metadata.namespace": true}
	for k := range fieldsOf(example) {
		allowed[k] = true
	}
	return scheme.AddFieldLabelConversionFunc(gvk, func(label, value string) (string, string, error) {
		if !allowed[label] {
			return "", "", fmt.Errorf("field label not supported: %s", label)
		}
		return label, value, nil
	})
}
