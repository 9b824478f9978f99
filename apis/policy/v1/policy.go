// Package v1 holds skiff's behaviour for policy/v1 PodDisruptionBudgets:
// scheme installation, validation and kubectl table columns.
package v1

import (
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/apis/internalversion"
	"github.com/skiffhq/skiff/apis/table"
)

// Install registers policy/v1 in a scheme.
var Install = internalversion.Installer(policyv1.AddToScheme, policyv1.SchemeGroupVersion)

// ValidatePodDisruptionBudget checks a pod disruption budget.
func ValidatePodDisruptionBudget(p *policyv1.PodDisruptionBudget) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	if p.Spec.MinAvailable != nil && p.Spec.MaxUnavailable != nil {
		errs = append(errs, field.Invalid(spec, p.Spec, "minAvailable and maxUnavailable cannot be both set"))
	}
	for name, v := range map[string]*intstr.IntOrString{"minAvailable": p.Spec.MinAvailable, "maxUnavailable": p.Spec.MaxUnavailable} {
		if v == nil {
			continue
		}
		if v.Type == intstr.Int && v.IntVal < 0 {
			errs = append(errs, field.Invalid(spec.Child(name), v.IntVal, "must be greater than or equal to 0"))
		}
		if v.Type == intstr.String {
			for _, msg := range validation.IsValidPercent(v.StrVal) {
				errs = append(errs, field.Invalid(spec.Child(name), v.StrVal, msg))
			}
		}
	}
	if p.Spec.Selector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(p.Spec.Selector, metav1validation.LabelSelectorValidationOptions{}, spec.Child("selector"))...)
	}
	if pol := p.Spec.UnhealthyPodEvictionPolicy; pol != nil && *pol != policyv1.IfHealthyBudget && *pol != policyv1.AlwaysAllow {
		errs = append(errs, field.NotSupported(spec.Child("unhealthyPodEvictionPolicy"), *pol, []policyv1.UnhealthyPodEvictionPolicyType{policyv1.IfHealthyBudget, policyv1.AlwaysAllow}))
	}
	return errs
}

// PodDisruptionBudgetColumns are the columns of kubectl get pdb.
var PodDisruptionBudgetColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Min Available", "string", "The minimum number of pods that must be available simultaneously. This can be either an integer or a string specifying a percentage, e.g. \"28%\"."),
	table.Column("Max Unavailable", "string", "The maximum number of pods that may be unavailable simultaneously. This can be either an integer or a string specifying a percentage, e.g. \"28%\"."),
	table.Column("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
	table.AgeColumn,
}

// PodDisruptionBudgetRow renders a pod disruption budget.
func PodDisruptionBudgetRow(obj runtime.Object) ([]any, error) {
	p := obj.(*policyv1.PodDisruptionBudget)
	minAvailable, maxUnavailable := "N/A", "N/A"
	if p.Spec.MinAvailable != nil {
		minAvailable = p.Spec.MinAvailable.String()
	}
	if p.Spec.MaxUnavailable != nil {
		maxUnavailable = p.Spec.MaxUnavailable.String()
	}
	return []any{p.Name, minAvailable, maxUnavailable, int64(p.Status.DisruptionsAllowed), table.Age(p.CreationTimestamp)}, nil
}
