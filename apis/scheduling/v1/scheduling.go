// Package v1 holds skiff's behaviour for scheduling.k8s.io/v1
// PriorityClasses: scheme installation, defaults, validation, the system
// priority classes and kubectl table columns.
package v1

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/apis/internalversion"
	"github.com/skiffhq/skiff/apis/table"
)

// Priorities of the system classes and the highest a user class may have.
const (
	HighestUserDefinablePriority = int32(1000000000)
	SystemCriticalPriority       = 2 * HighestUserDefinablePriority
)

// Install registers scheduling.k8s.io/v1 and its defaults in a scheme.
func Install(scheme *runtime.Scheme) error {
	if err := internalversion.Installer(schedulingv1.AddToScheme, schedulingv1.SchemeGroupVersion)(scheme); err != nil {
		return err
	}
	scheme.AddTypeDefaultingFunc(&schedulingv1.PriorityClass{}, func(o any) {
		pc := o.(*schedulingv1.PriorityClass)
		if pc.PreemptionPolicy == nil {
			p := corev1.PreemptLowerPriority
			pc.PreemptionPolicy = &p
		}
	})
	return nil
}

// SystemPriorityClasses are the classes every cluster has.
func SystemPriorityClasses() []schedulingv1.PriorityClass {
	preempt := corev1.PreemptLowerPriority
	return []schedulingv1.PriorityClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "system-node-critical"}, Value: SystemCriticalPriority + 1000, PreemptionPolicy: &preempt,
			Description: "Used for system critical pods that must not be moved from their current node."},
		{ObjectMeta: metav1.ObjectMeta{Name: "system-cluster-critical"}, Value: SystemCriticalPriority, PreemptionPolicy: &preempt,
			Description: "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."},
	}
}

// ValidatePriorityClass keeps user classes below the system range and the
// system- prefix for the system classes.
func ValidatePriorityClass(pc *schedulingv1.PriorityClass) field.ErrorList {
	var errs field.ErrorList
	system := false
	for _, s := range SystemPriorityClasses() {
		if s.Name == pc.Name {
			system = true
			if s.Value != pc.Value {
				errs = append(errs, field.Forbidden(field.NewPath("value"), fmt.Sprintf("value of system priority class %s must be %d", s.Name, s.Value)))
			}
		}
	}
	if !system {
		if strings.HasPrefix(pc.Name, "system-") {
			errs = append(errs, field.Forbidden(field.NewPath("metadata", "name"), "priority class names with 'system-' prefix are reserved for system use only"))
		}
		if pc.Value > HighestUserDefinablePriority {
			errs = append(errs, field.Forbidden(field.NewPath("value"), fmt.Sprintf("maximum allowed value of a user defined priority is %v", HighestUserDefinablePriority)))
		}
	}
	if p := pc.PreemptionPolicy; p != nil && *p != corev1.PreemptLowerPriority && *p != corev1.PreemptNever {
		errs = append(errs, field.NotSupported(field.NewPath("preemptionPolicy"), *p, []corev1.PreemptionPolicy{corev1.PreemptLowerPriority, corev1.PreemptNever}))
	}
	return errs
}

// ValidatePriorityClassUpdate keeps value and preemption policy immutable.
func ValidatePriorityClassUpdate(pc, old *schedulingv1.PriorityClass) field.ErrorList {
	errs := ValidatePriorityClass(pc)
	if pc.Value != old.Value {
		errs = append(errs, field.Forbidden(field.NewPath("value"), "may not be changed in an update."))
	}
	if (pc.PreemptionPolicy == nil) != (old.PreemptionPolicy == nil) || (pc.PreemptionPolicy != nil && *pc.PreemptionPolicy != *old.PreemptionPolicy) {
		errs = append(errs, field.Invalid(field.NewPath("preemptionPolicy"), pc.PreemptionPolicy, "field is immutable"))
	}
	return errs
}

// PriorityClassColumns are the columns of kubectl get priorityclasses.
var PriorityClassColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Value", "integer", "The value of this priority class."),
	table.Column("Global-Default", "boolean", "globalDefault specifies whether this PriorityClass should be considered as the default priority."),
	table.AgeColumn,
	table.Column("PreemptionPolicy", "string", "PreemptionPolicy is the Policy for preempting pods with lower priority."),
}

// PriorityClassRow renders a priority class.
func PriorityClassRow(obj runtime.Object) ([]any, error) {
	pc := obj.(*schedulingv1.PriorityClass)
	policy := ""
	if pc.PreemptionPolicy != nil {
		policy = string(*pc.PreemptionPolicy)
	}
	return []any{pc.Name, int64(pc.Value), pc.GlobalDefault, table.Age(pc.CreationTimestamp), policy}, nil
}
