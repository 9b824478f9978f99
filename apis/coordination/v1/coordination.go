// Package v1 holds skiff's behaviour for coordination.k8s.io/v1 leases:
// scheme installation, validation and kubectl table columns.
package v1

import (
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/apis/internalversion"
	"github.com/skiffhq/skiff/apis/table"
)

// Install registers coordination.k8s.io/v1 in a scheme.
var Install = internalversion.Installer(coordinationv1.AddToScheme, coordinationv1.SchemeGroupVersion)

// ValidateLease checks a lease.
func ValidateLease(l *coordinationv1.Lease) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	if d := l.Spec.LeaseDurationSeconds; d != nil && *d <= 0 {
		errs = append(errs, field.Invalid(spec.Child("leaseDurationSeconds"), *d, "must be greater than 0"))
	}
	if t := l.Spec.LeaseTransitions; t != nil && *t < 0 {
		errs = append(errs, field.Invalid(spec.Child("leaseTransitions"), *t, "must be greater than or equal to 0"))
	}
	return errs
}

// LeaseColumns are the columns of kubectl get leases.
var LeaseColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Holder", "string", "The holder of the lease."),
	table.AgeColumn,
}

// LeaseRow renders a lease.
func LeaseRow(obj runtime.Object) ([]any, error) {
	l := obj.(*coordinationv1.Lease)
	holder := ""
	if l.Spec.HolderIdentity != nil {
		holder = *l.Spec.HolderIdentity
	}
	return []any{l.Name, holder, table.Age(l.CreationTimestamp)}, nil
}
