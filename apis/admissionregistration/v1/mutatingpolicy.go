package v1

import (
	"reflect"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/mutating/patch"

	"github.com/skiffhq/skiff/apis/table"
)

// ValidateMutatingAdmissionPolicy checks a new mutating admission policy,
// compiling its CEL expressions as the MutatingAdmissionPolicy plugin will.
func ValidateMutatingAdmissionPolicy(p *admissionregistrationv1.MutatingAdmissionPolicy) field.ErrorList {
	return validateMutatingPolicySpec(&p.Spec, policyExpressions{}, false, field.NewPath("spec"))
}

// ValidateMutatingAdmissionPolicyUpdate checks an update of a mutating
// admission policy; expressions the old one had compile with the
// environment for stored expressions.
func ValidateMutatingAdmissionPolicyUpdate(p, old *admissionregistrationv1.MutatingAdmissionPolicy) field.ErrorList {
	stored := policyExpressions{conditions: sets.New[string](), validations: sets.New[string]()}
	for _, c := range old.Spec.MatchConditions {
		stored.conditions.Insert(strings.TrimSpace(c.Expression))
	}
	for _, v := range old.Spec.Variables {
		stored.validations.Insert(v.Expression)
	}
	for _, m := range old.Spec.Mutations {
		if m.ApplyConfiguration != nil {
			stored.validations.Insert(m.ApplyConfiguration.Expression)
		}
		if m.JSONPatch != nil {
			stored.validations.Insert(m.JSONPatch.Expression)
		}
	}
	sameConditions := reflect.DeepEqual(p.Spec.ParamKind, old.Spec.ParamKind) && reflect.DeepEqual(p.Spec.MatchConditions, old.Spec.MatchConditions)
	return validateMutatingPolicySpec(&p.Spec, stored, sameConditions, field.NewPath("spec"))
}

func validateMutatingPolicySpec(spec *admissionregistrationv1.MutatingAdmissionPolicySpec, stored policyExpressions, sameConditions bool, p *field.Path) field.ErrorList {
	errs, compiler := validatePolicyCommon(policyCommon{failurePolicy: spec.FailurePolicy, paramKind: spec.ParamKind, matchConstraints: spec.MatchConstraints,
		matchConditions: spec.MatchConditions, variables: spec.Variables}, stored, sameConditions, p)
	policies := []string{string(admissionregistrationv1.NeverReinvocationPolicy), string(admissionregistrationv1.IfNeededReinvocationPolicy)}
	switch r := spec.ReinvocationPolicy; {
	case r == "":
		errs = append(errs, field.Required(p.Child("reinvocationPolicy"), ""))
	case r != admissionregistrationv1.NeverReinvocationPolicy && r != admissionregistrationv1.IfNeededReinvocationPolicy:
		errs = append(errs, field.NotSupported(p.Child("reinvocationPolicy"), r, policies))
	}
	if len(spec.Mutations) == 0 {
		return append(errs, field.Required(p.Child("mutations"), "mutations must contain at least one item"))
	}
	if compiler == nil {
		return errs
	}
	// Mutation expressions see the variables, params and the patch types
	// (Object{...}, JSONPatch{...}), as in the plugin.
	decls := plugincel.OptionalVariableDeclarations{HasParams: spec.ParamKind != nil, HasAuthorizer: true, HasPatchTypes: true}
	for i, m := range spec.Mutations {
		mp := p.Child("mutations").Index(i)
		var expr *string
		var want, other string
		var accessor plugincel.ExpressionAccessor
		switch m.PatchType {
		case "":
			errs = append(errs, field.Required(mp.Child("patchType"), ""))
			continue
		case admissionregistrationv1.PatchTypeApplyConfiguration:
			want, other = "applyConfiguration", "jsonPatch"
			if m.JSONPatch != nil {
				errs = append(errs, field.Forbidden(mp.Child(other), "must not be set when patchType is ApplyConfiguration"))
			}
			if m.ApplyConfiguration != nil {
				expr = &m.ApplyConfiguration.Expression
				accessor = &patch.ApplyConfigurationCondition{Expression: m.ApplyConfiguration.Expression}
			}
		case admissionregistrationv1.PatchTypeJSONPatch:
			want, other = "jsonPatch", "applyConfiguration"
			if m.ApplyConfiguration != nil {
				errs = append(errs, field.Forbidden(mp.Child(other), "must not be set when patchType is JSONPatch"))
			}
			if m.JSONPatch != nil {
				expr = &m.JSONPatch.Expression
				accessor = &patch.JSONPatchCondition{Expression: m.JSONPatch.Expression}
			}
		default:
			errs = append(errs, field.NotSupported(mp.Child("patchType"), m.PatchType,
				[]string{string(admissionregistrationv1.PatchTypeApplyConfiguration), string(admissionregistrationv1.PatchTypeJSONPatch)}))
			continue
		}
		switch {
		case expr == nil:
			errs = append(errs, field.Required(mp.Child(want), "must be specified when patchType is "+string(m.PatchType)))
		case strings.TrimSpace(*expr) == "":
			errs = append(errs, field.Required(mp.Child(want, "expression"), "expression is not specified"))
		default:
			if res := compiler.CompileCELExpression(accessor, decls, envFor(stored.validations, *expr)); res.Error != nil {
				errs = append(errs, celError(mp.Child(want, "expression"), *expr, res.Error))
			}
		}
	}
	return errs
}

// ValidateMutatingAdmissionPolicyBinding checks a mutating admission
// policy binding: the policy's name, the parameter reference and the
// match resources.
func ValidateMutatingAdmissionPolicyBinding(b *admissionregistrationv1.MutatingAdmissionPolicyBinding) field.ErrorList {
	return validateBindingCommon(b.Spec.PolicyName, b.Spec.ParamRef, b.Spec.MatchResources, field.NewPath("spec"))
}

// MutatingPolicyColumns are the columns of kubectl get
// mutatingadmissionpolicies.
var MutatingPolicyColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Mutations", "integer", "Mutations indicates the number of mutations defined in this policy"),
	table.Column("ParamKind", "string", "ParamKind specifies the kind of resources used to parameterize this policy"),
	table.AgeColumn,
}

// MutatingPolicyRow renders a mutating admission policy.
func MutatingPolicyRow(obj runtime.Object) ([]any, error) {
	p := obj.(*admissionregistrationv1.MutatingAdmissionPolicy)
	return []any{p.Name, int64(len(p.Spec.Mutations)), paramKindString(p.Spec.ParamKind), table.Age(p.CreationTimestamp)}, nil
}

// MutatingBindingRow renders a mutating admission policy binding, with the
// columns of validating ones (BindingColumns).
func MutatingBindingRow(obj runtime.Object) ([]any, error) {
	b := obj.(*admissionregistrationv1.MutatingAdmissionPolicyBinding)
	return []any{b.Name, b.Spec.PolicyName, paramRefString(b.Spec.ParamRef), table.Age(b.CreationTimestamp)}, nil
}
