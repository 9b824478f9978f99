package registry

import (
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/storage"
)

type storageSelectionPredicate = storage.SelectionPredicate

func newPredicate(l labels.Selector, f fields.Selector, attrs func(runtime.Object) (labels.Set, fields.Set, error)) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: l, Field: f, GetAttrs: attrs}
}
