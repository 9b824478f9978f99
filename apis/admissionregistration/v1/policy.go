package v1

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	validatingpolicy "k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/client-go/util/jsonpath"
)

// Limits kube-apiserver puts on a policy's audit annotations.
const (
	maxAuditAnnotations        = 20
	maxAuditAnnotationExprSize = 5 * 1024
)

// policyExpressions are a stored policy's expressions, compiled on update
// with the environment for stored expressions (as upstream), so that an
// update does not fail on what an older server accepted.
type policyExpressions struct {
	conditions, validations, messages, annotations sets.Set[string]
}

// ValidateValidatingAdmissionPolicy checks a new policy, compiling its
// CEL expressions.
func ValidateValidatingAdmissionPolicy(p *admissionregistrationv1.ValidatingAdmissionPolicy) field.ErrorList {
	return validatePolicySpec(p.Name, &p.Spec, policyExpressions{}, false, field.NewPath("spec"))
}

// ValidateValidatingAdmissionPolicyUpdate checks an update of a policy.
func ValidateValidatingAdmissionPolicyUpdate(p, old *admissionregistrationv1.ValidatingAdmissionPolicy) field.ErrorList {
	stored := policyExpressions{conditions: sets.New[string](), validations: sets.New[string](), messages: sets.New[string](), annotations: sets.New[string]()}
	for _, c := range old.Spec.MatchConditions {
		stored.conditions.Insert(strings.TrimSpace(c.Expression))
	}
	for _, v := range old.Spec.Validations {
		stored.validations.Insert(v.Expression)
		stored.messages.Insert(v.MessageExpression)
	}
	for _, v := range old.Spec.Variables {
		stored.validations.Insert(v.Expression)
	}
	for _, a := range old.Spec.AuditAnnotations {
		stored.annotations.Insert(a.ValueExpression)
	}
	sameConditions := reflect.DeepEqual(p.Spec.ParamKind, old.Spec.ParamKind) && reflect.DeepEqual(p.Spec.MatchConditions, old.Spec.MatchConditions)
	return validatePolicySpec(p.Name, &p.Spec, stored, sameConditions, field.NewPath("spec"))
}

// ValidateValidatingAdmissionPolicyStatus checks a policy's status: its
// type-checking warnings and conditions.
func ValidateValidatingAdmissionPolicyStatus(p, _ *admissionregistrationv1.ValidatingAdmissionPolicy) field.ErrorList {
	sp := field.NewPath("status")
	var errs field.ErrorList
	if tc := p.Status.TypeChecking; tc != nil {
		for i, w := range tc.ExpressionWarnings {
			wp := sp.Child("typeChecking", "expressionWarnings").Index(i)
			if w.Warning == "" {
				errs = append(errs, field.Required(wp.Child("warning"), ""))
			}
			ref := strings.TrimSpace(w.FieldRef)
			if ref == "" {
				errs = append(errs, field.Required(wp.Child("fieldRef"), ""))
			} else if err := jsonpath.New("spec").Parse("{" + ref + "}"); err != nil {
				errs = append(errs, field.Invalid(wp.Child("fieldRef"), ref, fmt.Sprintf("invalid JSONPath: %v", err)))
			}
		}
	}
	return append(errs, metav1validation.ValidateConditions(p.Status.Conditions, sp.Child("conditions"))...)
}

func validatePolicySpec(name string, spec *admissionregistrationv1.ValidatingAdmissionPolicySpec, stored policyExpressions, sameConditions bool, p *field.Path) field.ErrorList {
	errs, compiler := validatePolicyCommon(policyCommon{failurePolicy: spec.FailurePolicy, paramKind: spec.ParamKind, matchConstraints: spec.MatchConstraints,
		matchConditions: spec.MatchConditions, variables: spec.Variables}, stored, sameConditions, p)
	if compiler == nil {
		return errs
	}
	params := spec.ParamKind != nil
	decls := plugincel.OptionalVariableDeclarations{HasParams: params, HasAuthorizer: true}
	if len(spec.Validations) == 0 && len(spec.AuditAnnotations) == 0 {
		const msg = "validations or auditAnnotations must contain at least one item"
		return append(errs, field.Required(p.Child("validations"), msg), field.Required(p.Child("auditAnnotations"), msg))
	}
	for i := range spec.Validations {
		errs = append(errs, validateValidation(compiler, &spec.Validations[i], params, stored, p.Child("validations").Index(i))...)
	}
	if len(spec.AuditAnnotations) > maxAuditAnnotations {
		errs = append(errs, field.Invalid(p.Child("auditAnnotations"), spec.AuditAnnotations, fmt.Sprintf("must not have more than %d auditAnnotations", maxAuditAnnotations)))
	}
	keys := sets.New[string]()
	for i, a := range spec.AuditAnnotations {
		ap := p.Child("auditAnnotations").Index(i)
		if name == "" {
			errs = append(errs, field.Invalid(ap.Child("key"), a.Key, "requires metadata.name be non-empty"))
		} else {
			for _, msg := range utilvalidation.IsQualifiedName(name + "/" + a.Key) {
				errs = append(errs, field.Invalid(ap.Child("key"), name+"/"+a.Key, msg))
			}
		}
		switch expr := strings.TrimSpace(a.ValueExpression); {
		case expr == "":
			errs = append(errs, field.Required(ap.Child("valueExpression"), "valueExpression is not specified"))
		case len(expr) > maxAuditAnnotationExprSize:
			errs = append(errs, field.Required(ap.Child("valueExpression"), fmt.Sprintf("must not exceed %d bytes in length", maxAuditAnnotationExprSize)))
		default:
			res := compiler.CompileCELExpression(&validatingpolicy.AuditAnnotationCondition{ValueExpression: expr}, decls, envFor(stored.annotations, a.ValueExpression))
			if res.Error != nil {
				errs = append(errs, celError(ap.Child("valueExpression"), a.ValueExpression, res.Error))
			}
		}
		if keys.Has(a.Key) {
			errs = append(errs, field.Duplicate(ap.Child("key"), a.Key))
		}
		keys.Insert(a.Key)
	}
	return errs
}

// policyCommon is what validating and mutating admission policies share.
type policyCommon struct {
	failurePolicy    *admissionregistrationv1.FailurePolicyType
	paramKind        *admissionregistrationv1.ParamKind
	matchConstraints *admissionregistrationv1.MatchResources
	matchConditions  []admissionregistrationv1.MatchCondition
	variables        []admissionregistrationv1.Variable
}

// validatePolicyCommon checks the failure policy, parameter kind, match
// constraints and conditions, and compiles the variables in order into
// the compiler it returns (nil if none could be made), which the
// policy's own expressions then see.
func validatePolicyCommon(spec policyCommon, stored policyExpressions, sameConditions bool, p *field.Path) (field.ErrorList, *plugincel.CompositedCompiler) {
	var errs field.ErrorList
	switch f := spec.failurePolicy; {
	case f == nil:
		errs = append(errs, field.Required(p.Child("failurePolicy"), ""))
	case *f != admissionregistrationv1.Fail && *f != admissionregistrationv1.Ignore:
		errs = append(errs, field.NotSupported(p.Child("failurePolicy"), *f, []string{string(admissionregistrationv1.Fail), string(admissionregistrationv1.Ignore)}))
	}
	params := spec.paramKind != nil
	if params {
		errs = append(errs, validateParamKind(spec.paramKind, p.Child("paramKind"))...)
	}
	if spec.matchConstraints == nil {
		errs = append(errs, field.Required(p.Child("matchConstraints"), ""))
	} else {
		errs = append(errs, validateMatchResources(spec.matchConstraints, p.Child("matchConstraints"))...)
		if len(spec.matchConstraints.ResourceRules) == 0 {
			errs = append(errs, field.Required(p.Child("matchConstraints", "resourceRules"), ""))
		}
	}
	if !sameConditions {
		errs = append(errs, validateMatchConditions(spec.matchConditions, params, stored.conditions, p.Child("matchConditions"))...)
	}
	// Variables are compiled in order into one compiler, which the
	// policy's own expressions then see.
	compiler, err := plugincel.NewCompositedCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
	if err != nil {
		return append(errs, field.InternalError(p, err)), nil
	}
	decls := plugincel.OptionalVariableDeclarations{HasParams: params, HasAuthorizer: true}
	for i, v := range spec.variables {
		vp := p.Child("variables").Index(i)
		if strings.TrimSpace(v.Name) == "" {
			errs = append(errs, field.Required(vp.Child("name"), "name is not specified"))
		} else if !isCELIdentifier(v.Name) {
			errs = append(errs, field.Invalid(vp.Child("name"), v.Name, "name is not a valid CEL identifier"))
		}
		if strings.TrimSpace(v.Expression) == "" {
			errs = append(errs, field.Required(vp.Child("expression"), "expression is not specified"))
			continue
		}
		res := compiler.CompileAndStoreVariable(&validatingpolicy.Variable{Name: v.Name, Expression: v.Expression}, decls, envFor(stored.validations, v.Expression))
		if res.Error != nil {
			errs = append(errs, celError(vp.Child("expression"), v.Expression, res.Error))
		}
	}
	return errs, compiler
}

func validateValidation(compiler plugincel.Compiler, v *admissionregistrationv1.Validation, params bool, stored policyExpressions, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if strings.TrimSpace(v.Expression) == "" {
		errs = append(errs, field.Required(p.Child("expression"), "expression is not specified"))
	} else {
		res := compiler.CompileCELExpression(&validatingpolicy.ValidationCondition{Expression: v.Expression},
			plugincel.OptionalVariableDeclarations{HasParams: params, HasAuthorizer: true}, envFor(stored.validations, v.Expression))
		if res.Error != nil {
			errs = append(errs, celError(p.Child("expression"), v.Expression, res.Error))
		}
	}
	if v.MessageExpression != "" {
		if strings.TrimSpace(v.MessageExpression) == "" {
			errs = append(errs, field.Invalid(p.Child("messageExpression"), v.MessageExpression, "must be non-empty if specified"))
		} else {
			res := compiler.CompileCELExpression(&validatingpolicy.MessageExpressionCondition{MessageExpression: v.MessageExpression},
				plugincel.OptionalVariableDeclarations{HasParams: params}, envFor(stored.messages, v.MessageExpression))
			if res.Error != nil {
				errs = append(errs, celError(p.Child("messageExpression"), v.MessageExpression, res.Error))
			}
		}
	}
	msg := strings.TrimSpace(v.Message)
	switch {
	case v.Message != "" && msg == "":
		errs = append(errs, field.Invalid(p.Child("message"), v.Message, "message must be non-empty if specified"))
	case strings.ContainsAny(msg, "\n\r"):
		errs = append(errs, field.Invalid(p.Child("message"), v.Message, "message must not contain line breaks"))
	}
	reasons := []string{string(metav1.StatusReasonForbidden), string(metav1.StatusReasonInvalid), string(metav1.StatusReasonRequestEntityTooLarge)}
	if r := v.Reason; r != nil && !slices.Contains(reasons, string(*r)) {
		errs = append(errs, field.NotSupported(p.Child("reason"), *r, reasons))
	}
	return errs
}

func envFor(stored sets.Set[string], expr string) environment.Type {
	if stored.Has(expr) {
		return environment.StoredExpressions
	}
	return environment.NewExpressions
}

func validateParamKind(k *admissionregistrationv1.ParamKind, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if k.APIVersion == "" {
		errs = append(errs, field.Required(p.Child("apiVersion"), ""))
	} else if gv, err := schema.ParseGroupVersion(k.APIVersion); err != nil {
		errs = append(errs, field.Invalid(p.Child("apiVersion"), k.APIVersion, err.Error()))
	} else {
		if gv.Group != "" {
			if msgs := utilvalidation.IsDNS1123Subdomain(gv.Group); len(msgs) > 0 {
				errs = append(errs, field.Invalid(p.Child("apiVersion"), gv.Group, strings.Join(msgs, ",")))
			}
		}
		if gv.Version == "" {
			errs = append(errs, field.Invalid(p.Child("apiVersion"), k.APIVersion, "version must be specified"))
		} else if msgs := utilvalidation.IsDNS1035Label(gv.Version); len(msgs) > 0 {
			errs = append(errs, field.Invalid(p.Child("apiVersion"), gv.Version, strings.Join(msgs, ",")))
		}
	}
	if k.Kind == "" {
		errs = append(errs, field.Required(p.Child("kind"), ""))
	} else if msgs := utilvalidation.IsDNS1035Label(strings.ToLower(k.Kind)); len(msgs) > 0 {
		errs = append(errs, field.Invalid(p.Child("kind"), k.Kind, "may have mixed case, but should otherwise match: "+strings.Join(msgs, ",")))
	}
	return errs
}

func validateMatchResources(m *admissionregistrationv1.MatchResources, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch mp := m.MatchPolicy; {
	case mp == nil:
		errs = append(errs, field.Required(p.Child("matchPolicy"), ""))
	case *mp != admissionregistrationv1.Exact && *mp != admissionregistrationv1.Equivalent:
		errs = append(errs, field.NotSupported(p.Child("matchPolicy"), *mp, []string{string(admissionregistrationv1.Equivalent), string(admissionregistrationv1.Exact)}))
	}
	for _, s := range []struct {
		name string
		sel  *metav1.LabelSelector
	}{{"namespaceSelector", m.NamespaceSelector}, {"objectSelector", m.ObjectSelector}} {
		if s.sel == nil {
			errs = append(errs, field.Required(p.Child(s.name), ""))
		} else {
			errs = append(errs, metav1validation.ValidateLabelSelector(s.sel, metav1validation.LabelSelectorValidationOptions{}, p.Child(s.name))...)
		}
	}
	for _, rules := range []struct {
		name  string
		rules []admissionregistrationv1.NamedRuleWithOperations
	}{{"resourceRules", m.ResourceRules}, {"excludeResourceRules", m.ExcludeResourceRules}} {
		for i := range rules.rules {
			rp := p.Child(rules.name).Index(i)
			names := sets.New[string]()
			for j, n := range rules.rules[i].ResourceNames {
				for _, msg := range path.ValidatePathSegmentName(n, false) {
					errs = append(errs, field.Invalid(rp.Child("resourceNames").Index(j), n, msg))
				}
				if names.Has(n) {
					errs = append(errs, field.Duplicate(rp.Child("resourceNames").Index(j), n))
				}
				names.Insert(n)
			}
			errs = append(errs, validateRuleWithOperations(&rules.rules[i].RuleWithOperations, rp)...)
		}
	}
	return errs
}

// ValidateValidatingAdmissionPolicyBinding checks a binding.
func ValidateValidatingAdmissionPolicyBinding(b *admissionregistrationv1.ValidatingAdmissionPolicyBinding) field.ErrorList {
	p := field.NewPath("spec")
	errs := validateBindingCommon(b.Spec.PolicyName, b.Spec.ParamRef, b.Spec.MatchResources, p)
	ap := p.Child("validationActions")
	known := []string{string(admissionregistrationv1.Audit), string(admissionregistrationv1.Deny), string(admissionregistrationv1.Warn)}
	seen := sets.New[admissionregistrationv1.ValidationAction]()
	for i, a := range b.Spec.ValidationActions {
		if !slices.Contains(known, string(a)) {
			errs = append(errs, field.NotSupported(ap.Index(i), a, known))
		}
		if seen.Has(a) {
			errs = append(errs, field.Duplicate(ap.Index(i), a))
		}
		seen.Insert(a)
	}
	if seen.Has(admissionregistrationv1.Deny) && seen.Has(admissionregistrationv1.Warn) {
		errs = append(errs, field.Invalid(ap, b.Spec.ValidationActions, "must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)"))
	}
	if seen.Len() == 0 {
		errs = append(errs, field.Required(ap, "at least one validation action is required"))
	}
	return errs
}

// validateBindingCommon checks what validating and mutating policy
// bindings share: the policy's name, the parameter reference and the
// match resources.
func validateBindingCommon(policyName string, paramRef *admissionregistrationv1.ParamRef, match *admissionregistrationv1.MatchResources, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if policyName == "" {
		errs = append(errs, field.Required(p.Child("policyName"), ""))
	} else {
		for _, msg := range utilvalidation.IsDNS1123Subdomain(policyName) {
			errs = append(errs, field.Invalid(p.Child("policyName"), policyName, msg))
		}
	}
	errs = append(errs, validateParamRef(paramRef, p.Child("paramRef"))...)
	if match != nil {
		errs = append(errs, validateMatchResources(match, p.Child("matchResources"))...)
	}
	return errs
}

// validateParamRef checks a binding's parameter reference, if any.
func validateParamRef(r *admissionregistrationv1.ParamRef, rp *field.Path) field.ErrorList {
	if r == nil {
		return nil
	}
	var errs field.ErrorList
	if r.Name != "" {
		for _, msg := range path.ValidatePathSegmentName(r.Name, false) {
			errs = append(errs, field.Invalid(rp.Child("name"), r.Name, msg))
		}
		if r.Selector != nil {
			errs = append(errs, field.Forbidden(rp.Child("name"), "name and selector are mutually exclusive"),
				field.Forbidden(rp.Child("selector"), "name and selector are mutually exclusive"))
		}
	}
	if r.Selector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(r.Selector, metav1validation.LabelSelectorValidationOptions{}, rp.Child("selector"))...)
	}
	if r.Name == "" && r.Selector == nil {
		errs = append(errs, field.Required(rp, "one of name or selector must be specified"))
	}
	actions := []string{string(admissionregistrationv1.DenyAction), string(admissionregistrationv1.AllowAction)}
	switch a := r.ParameterNotFoundAction; {
	case a == nil || *a == "":
		errs = append(errs, field.Required(rp.Child("parameterNotFoundAction"), ""))
	case !slices.Contains(actions, string(*a)):
		errs = append(errs, field.NotSupported(rp.Child("parameterNotFoundAction"), *a, actions))
	}
	return errs
}

// isCELIdentifier reports whether name can name a CEL variable: a letter
// or underscore, then letters, digits and underscores, not a reserved word.
func isCELIdentifier(name string) bool {
	reserved := []string{"true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function",
		"if", "import", "let", "loop", "package", "namespace", "return", "var", "void", "while"}
	if name == "" || slices.Contains(reserved, name) {
		return false
	}
	for i, r := range name {
		letter := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}
