// Package v1 holds skiff's behaviour for storage.k8s.io/v1 StorageClasses:
// scheme installation, defaults, validation and kubectl table columns.
package v1

import (
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/apis/internalversion"
	"github.com/skiffhq/skiff/apis/table"
)

// Install registers storage.k8s.io/v1 and its defaults in a scheme.
func Install(scheme *runtime.Scheme) error {
	if err := internalversion.Installer(storagev1.AddToScheme, storagev1.SchemeGroupVersion)(scheme); err != nil {
		return err
	}
	scheme.AddTypeDefaultingFunc(&storagev1.StorageClass{}, func(o any) { SetDefaultsStorageClass(o.(*storagev1.StorageClass)) })
	return nil
}

// SetDefaultsStorageClass defaults the reclaim policy and binding mode.
func SetDefaultsStorageClass(sc *storagev1.StorageClass) {
	if sc.ReclaimPolicy == nil {
		p := corev1.PersistentVolumeReclaimDelete
		sc.ReclaimPolicy = &p
	}
	if sc.VolumeBindingMode == nil {
		m := storagev1.VolumeBindingImmediate
		sc.VolumeBindingMode = &m
	}
}

// ValidateStorageClass requires a provisioner and known policies.
func ValidateStorageClass(sc *storagev1.StorageClass) field.ErrorList {
	var errs field.ErrorList
	if sc.Provisioner == "" {
		errs = append(errs, field.Required(field.NewPath("provisioner"), ""))
	}
	if p := sc.ReclaimPolicy; p != nil && *p != corev1.PersistentVolumeReclaimDelete && *p != corev1.PersistentVolumeReclaimRetain {
		errs = append(errs, field.NotSupported(field.NewPath("reclaimPolicy"), *p, []corev1.PersistentVolumeReclaimPolicy{corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRetain}))
	}
	if m := sc.VolumeBindingMode; m != nil && *m != storagev1.VolumeBindingImmediate && *m != storagev1.VolumeBindingWaitForFirstConsumer {
		errs = append(errs, field.NotSupported(field.NewPath("volumeBindingMode"), *m, []storagev1.VolumeBindingMode{storagev1.VolumeBindingImmediate, storagev1.VolumeBindingWaitForFirstConsumer}))
	}
	return errs
}

// ValidateStorageClassUpdate keeps the provisioner, parameters and policies immutable.
func ValidateStorageClassUpdate(sc, old *storagev1.StorageClass) field.ErrorList {
	errs := ValidateStorageClass(sc)
	if sc.Provisioner != old.Provisioner {
		errs = append(errs, field.Forbidden(field.NewPath("provisioner"), "updates to provisioner are forbidden."))
	}
	if !mapsEqual(sc.Parameters, old.Parameters) {
		errs = append(errs, field.Forbidden(field.NewPath("parameters"), "updates to parameters are forbidden."))
	}
	if *sc.ReclaimPolicy != *old.ReclaimPolicy {
		errs = append(errs, field.Forbidden(field.NewPath("reclaimPolicy"), "updates to reclaimPolicy are forbidden."))
	}
	if *sc.VolumeBindingMode != *old.VolumeBindingMode {
		errs = append(errs, field.Forbidden(field.NewPath("volumeBindingMode"), "field is immutable"))
	}
	return errs
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// StorageClassColumns are the columns of kubectl get storageclasses.
var StorageClassColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Provisioner", "string", "Indicates the type of the provisioner."),
	table.Column("ReclaimPolicy", "string", "Indicates the type of the reclaim policy."),
	table.Column("VolumeBindingMode", "string", "Indicates how volume binding should happen."),
	table.Column("AllowVolumeExpansion", "string", "Indicates whether the storage class allows volume expansion."),
	table.AgeColumn,
}

// StorageClassRow renders a storage class; the default one is marked.
func StorageClassRow(obj runtime.Object) ([]any, error) {
	sc := obj.(*storagev1.StorageClass)
	name := sc.Name
	if sc.Annotations["storageclass.kubernetes.io/is-default-class"] == "true" {
		name += " (default)"
	}
	expansion := "false"
	if sc.AllowVolumeExpansion != nil && *sc.AllowVolumeExpansion {
		expansion = "true"
	}
	return []any{name, sc.Provisioner, string(*sc.ReclaimPolicy), string(*sc.VolumeBindingMode), expansion, table.Age(sc.CreationTimestamp)}, nil
}
