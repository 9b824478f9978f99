package v1

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions"
	apiservercel "k8s.io/apiserver/pkg/cel"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/apiserver/pkg/util/webhook"
)

// The AdmissionReview versions this server can send, newest first.
var admissionReviewVersions = []string{"v1", "v1beta1"}

// maxMatchConditions caps a webhook's or a policy's match conditions.
const maxMatchConditions = 64

// webhookOptions relax validation on update for what an older server
// accepted, so that stored objects stay updatable (as kube-apiserver).
type webhookOptions struct {
	requireNoSideEffects    bool
	requireKnownReview      bool
	requireUniqueNames      bool
	allowInvalidLabelValues bool
	skipMatchConditions     bool
	storedMatchConditions   sets.Set[string]
}

func strictWebhookOptions() webhookOptions {
	return webhookOptions{requireNoSideEffects: true, requireKnownReview: true, requireUniqueNames: true}
}

// webhookFields is what validating and mutating webhooks share.
type webhookFields struct {
	name              string
	rules             []admissionregistrationv1.RuleWithOperations
	failurePolicy     *admissionregistrationv1.FailurePolicyType
	matchPolicy       *admissionregistrationv1.MatchPolicyType
	sideEffects       *admissionregistrationv1.SideEffectClass
	timeoutSeconds    *int32
	namespaceSelector *metav1.LabelSelector
	objectSelector    *metav1.LabelSelector
	clientConfig      admissionregistrationv1.WebhookClientConfig
	reviewVersions    []string
	matchConditions   []admissionregistrationv1.MatchCondition
}

func validatingFields(w *admissionregistrationv1.ValidatingWebhook) webhookFields {
	return webhookFields{w.Name, w.Rules, w.FailurePolicy, w.MatchPolicy, w.SideEffects, w.TimeoutSeconds,
		w.NamespaceSelector, w.ObjectSelector, w.ClientConfig, w.AdmissionReviewVersions, w.MatchConditions}
}

func mutatingFields(w *admissionregistrationv1.MutatingWebhook) webhookFields {
	return webhookFields{w.Name, w.Rules, w.FailurePolicy, w.MatchPolicy, w.SideEffects, w.TimeoutSeconds,
		w.NamespaceSelector, w.ObjectSelector, w.ClientConfig, w.AdmissionReviewVersions, w.MatchConditions}
}

// ValidateValidatingWebhookConfiguration checks a new validating webhook
// configuration.
func ValidateValidatingWebhookConfiguration(c *admissionregistrationv1.ValidatingWebhookConfiguration) field.ErrorList {
	return validateValidating(c, strictWebhookOptions())
}

// ValidateValidatingWebhookConfigurationUpdate checks an update, holding
// it to no more than what the old object already satisfied.
func ValidateValidatingWebhookConfigurationUpdate(c, old *admissionregistrationv1.ValidatingWebhookConfiguration) field.ErrorList {
	return validateValidating(c, updateOptions(fieldsOf(c.Webhooks, validatingFields), fieldsOf(old.Webhooks, validatingFields)))
}

// ValidateMutatingWebhookConfiguration checks a new mutating webhook
// configuration.
func ValidateMutatingWebhookConfiguration(c *admissionregistrationv1.MutatingWebhookConfiguration) field.ErrorList {
	return validateMutating(c, strictWebhookOptions())
}

// ValidateMutatingWebhookConfigurationUpdate checks an update, holding it
// to no more than what the old object already satisfied.
func ValidateMutatingWebhookConfigurationUpdate(c, old *admissionregistrationv1.MutatingWebhookConfiguration) field.ErrorList {
	return validateMutating(c, updateOptions(fieldsOf(c.Webhooks, mutatingFields), fieldsOf(old.Webhooks, mutatingFields)))
}

// fieldsOf returns what validation looks at of each webhook.
func fieldsOf[T any](hooks []T, fields func(*T) webhookFields) []webhookFields {
	out := make([]webhookFields, len(hooks))
	for i := range hooks {
		out[i] = fields(&hooks[i])
	}
	return out
}

func validateValidating(c *admissionregistrationv1.ValidatingWebhookConfiguration, opts webhookOptions) field.ErrorList {
	return validateHooks(fieldsOf(c.Webhooks, validatingFields), opts, func(int, *field.Path) field.ErrorList { return nil })
}

func validateMutating(c *admissionregistrationv1.MutatingWebhookConfiguration, opts webhookOptions) field.ErrorList {
	return validateHooks(fieldsOf(c.Webhooks, mutatingFields), opts, func(i int, p *field.Path) field.ErrorList {
		r := c.Webhooks[i].ReinvocationPolicy
		if r != nil && *r != admissionregistrationv1.NeverReinvocationPolicy && *r != admissionregistrationv1.IfNeededReinvocationPolicy {
			return field.ErrorList{field.NotSupported(p.Child("reinvocationPolicy"), *r,
				[]admissionregistrationv1.ReinvocationPolicyType{admissionregistrationv1.IfNeededReinvocationPolicy, admissionregistrationv1.NeverReinvocationPolicy})}
		}
		return nil
	})
}

func validateHooks(hooks []webhookFields, opts webhookOptions, extra func(int, *field.Path) field.ErrorList) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i := range hooks {
		p := field.NewPath("webhooks").Index(i)
		errs = append(errs, validateHook(&hooks[i], opts, p)...)
		errs = append(errs, extra(i, p)...)
		if name := hooks[i].name; opts.requireUniqueNames && name != "" {
			if names.Has(name) {
				errs = append(errs, field.Duplicate(p.Child("name"), name))
			}
			names.Insert(name)
		}
	}
	return errs
}

func validateHook(h *webhookFields, opts webhookOptions, p *field.Path) field.ErrorList {
	errs := utilvalidation.IsFullyQualifiedName(p.Child("name"), h.name)
	for i := range h.rules {
		errs = append(errs, validateRuleWithOperations(&h.rules[i], p.Child("rules").Index(i))...)
	}
	if f := h.failurePolicy; f != nil && *f != admissionregistrationv1.Ignore && *f != admissionregistrationv1.Fail {
		errs = append(errs, field.NotSupported(p.Child("failurePolicy"), *f, []string{string(admissionregistrationv1.Fail), string(admissionregistrationv1.Ignore)}))
	}
	if m := h.matchPolicy; m != nil && *m != admissionregistrationv1.Exact && *m != admissionregistrationv1.Equivalent {
		errs = append(errs, field.NotSupported(p.Child("matchPolicy"), *m, []string{string(admissionregistrationv1.Equivalent), string(admissionregistrationv1.Exact)}))
	}
	allowed := []string{string(admissionregistrationv1.SideEffectClassNone), string(admissionregistrationv1.SideEffectClassNoneOnDryRun)}
	if !opts.requireNoSideEffects {
		allowed = append(allowed, string(admissionregistrationv1.SideEffectClassSome), string(admissionregistrationv1.SideEffectClassUnknown))
	}
	slices.Sort(allowed)
	switch s := h.sideEffects; {
	case s == nil:
		errs = append(errs, field.Required(p.Child("sideEffects"), "must specify one of "+strings.Join(allowed, ", ")))
	case !slices.Contains(allowed, string(*s)):
		errs = append(errs, field.NotSupported(p.Child("sideEffects"), *s, allowed))
	}
	if t := h.timeoutSeconds; t != nil && (*t < 1 || *t > 30) {
		errs = append(errs, field.Invalid(p.Child("timeoutSeconds"), *t, "the timeout value must be between 1 and 30 seconds"))
	}
	selectorOpts := metav1validation.LabelSelectorValidationOptions{AllowInvalidLabelValueInSelector: opts.allowInvalidLabelValues}
	if h.namespaceSelector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(h.namespaceSelector, selectorOpts, p.Child("namespaceSelector"))...)
	}
	if h.objectSelector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(h.objectSelector, selectorOpts, p.Child("objectSelector"))...)
	}
	cc := h.clientConfig
	switch {
	case (cc.URL == nil) == (cc.Service == nil):
		errs = append(errs, field.Required(p.Child("clientConfig"), "exactly one of url or service is required"))
	case cc.URL != nil:
		errs = append(errs, webhook.ValidateWebhookURL(p.Child("clientConfig", "url"), *cc.URL, true)...)
	default:
		port := DefaultServicePort
		if cc.Service.Port != nil {
			port = *cc.Service.Port
		}
		errs = append(errs, webhook.ValidateWebhookService(p.Child("clientConfig", "service"), cc.Service.Namespace, cc.Service.Name, cc.Service.Path, port)...)
	}
	errs = append(errs, validateReviewVersions(h.reviewVersions, opts.requireKnownReview, p.Child("admissionReviewVersions"))...)
	if !opts.skipMatchConditions {
		errs = append(errs, validateMatchConditions(h.matchConditions, false /* a webhook has no params */, opts.storedMatchConditions, p.Child("matchConditions"))...)
	}
	return errs
}

func validateReviewVersions(versions []string, requireKnown bool, p *field.Path) field.ErrorList {
	known := strings.Join(admissionReviewVersions, ", ")
	if len(versions) == 0 {
		return field.ErrorList{field.Required(p, "must specify one of "+known)}
	}
	var errs field.ErrorList
	seen := sets.New[string]()
	anyKnown := false
	for i, v := range versions {
		if seen.Has(v) {
			errs = append(errs, field.Invalid(p.Index(i), v, "duplicate version"))
			continue
		}
		seen.Insert(v)
		for _, msg := range utilvalidation.IsDNS1035Label(v) {
			errs = append(errs, field.Invalid(p.Index(i), v, msg))
		}
		anyKnown = anyKnown || slices.Contains(admissionReviewVersions, v)
	}
	if requireKnown && !anyKnown {
		errs = append(errs, field.Invalid(p, versions, "must include at least one of "+known))
	}
	return errs
}

var operations = []string{
	string(admissionregistrationv1.OperationAll), string(admissionregistrationv1.Connect), string(admissionregistrationv1.Create),
	string(admissionregistrationv1.Delete), string(admissionregistrationv1.Update),
}

func validateRuleWithOperations(r *admissionregistrationv1.RuleWithOperations, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	ops := p.Child("operations")
	if len(r.Operations) == 0 {
		errs = append(errs, field.Required(ops, ""))
	}
	if len(r.Operations) > 1 && slices.Contains(r.Operations, admissionregistrationv1.OperationAll) {
		errs = append(errs, field.Invalid(ops, r.Operations, "if '*' is present, must not specify other operations"))
	}
	for i, op := range r.Operations {
		if !slices.Contains(operations, string(op)) {
			errs = append(errs, field.NotSupported(ops.Index(i), op, operations))
		}
	}
	return append(errs, validateRule(&r.Rule, p)...)
}

func validateRule(r *admissionregistrationv1.Rule, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(r.APIGroups) == 0 {
		errs = append(errs, field.Required(p.Child("apiGroups"), ""))
	}
	if len(r.APIGroups) > 1 && slices.Contains(r.APIGroups, "*") {
		errs = append(errs, field.Invalid(p.Child("apiGroups"), r.APIGroups, "if '*' is present, must not specify other API groups"))
	}
	if len(r.APIVersions) == 0 {
		errs = append(errs, field.Required(p.Child("apiVersions"), ""))
	}
	if len(r.APIVersions) > 1 && slices.Contains(r.APIVersions, "*") {
		errs = append(errs, field.Invalid(p.Child("apiVersions"), r.APIVersions, "if '*' is present, must not specify other API versions"))
	}
	for i, v := range r.APIVersions {
		if v == "" {
			errs = append(errs, field.Required(p.Child("apiVersions").Index(i), ""))
		}
	}
	errs = append(errs, validateResources(r.Resources, p.Child("resources"))...)
	scopes := []string{string(admissionregistrationv1.AllScopes), string(admissionregistrationv1.ClusterScope), string(admissionregistrationv1.NamespacedScope)}
	if s := r.Scope; s != nil && !slices.Contains(scopes, string(*s)) {
		errs = append(errs, field.NotSupported(p.Child("scope"), *s, scopes))
	}
	return errs
}

// validateResources checks a rule's resources: "x", "x/y", "*", "x/*",
// "*/y" and "*/*", without one of them covering another.
func validateResources(resources []string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(resources) == 0 {
		errs = append(errs, field.Required(p, ""))
	}
	anySub := sets.New[string]()    // x/*
	anyParent := sets.New[string]() // */y
	all, star, plain := false, false, false
	for i, rs := range resources {
		if rs == "" {
			errs = append(errs, field.Required(p.Index(i), ""))
			continue
		}
		all = all || rs == "*/*"
		star = star || rs == "*"
		res, sub, ok := strings.Cut(rs, "/")
		if !ok {
			plain = plain || rs != "*"
			continue
		}
		if anySub.Has(res) {
			errs = append(errs, field.Invalid(p.Index(i), rs, fmt.Sprintf("if '%s/*' is present, must not specify %s", res, rs)))
		}
		if anyParent.Has(sub) {
			errs = append(errs, field.Invalid(p.Index(i), rs, fmt.Sprintf("if '*/%s' is present, must not specify %s", sub, rs)))
		}
		if sub == "*" {
			anySub.Insert(res)
		}
		if res == "*" {
			anyParent.Insert(sub)
		}
	}
	if len(resources) > 1 && all {
		errs = append(errs, field.Invalid(p, resources, "if '*/*' is present, must not specify other resources"))
	}
	if star && plain {
		errs = append(errs, field.Invalid(p, resources, "if '*' is present, must not specify other resources without subresources"))
	}
	return errs
}

// validateMatchConditions checks names (qualified, unique), the count and
// that each expression compiles as a CEL boolean with the variables a
// webhook's conditions see. Expressions already stored are compiled with
// the stored-expressions environment, as upstream, so that an update does
// not fail on what an older server accepted.
func validateMatchConditions(conds []admissionregistrationv1.MatchCondition, params bool, stored sets.Set[string], p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(conds) > maxMatchConditions {
		errs = append(errs, field.TooMany(p, len(conds), maxMatchConditions))
	}
	names := sets.New[string]()
	for i, c := range conds {
		cp := p.Index(i)
		if expr := strings.TrimSpace(c.Expression); expr == "" {
			errs = append(errs, field.Required(cp.Child("expression"), ""))
		} else {
			env := environment.NewExpressions
			if stored.Has(expr) {
				env = environment.StoredExpressions
			}
			res := celCompiler().CompileCELExpression(&matchconditions.MatchCondition{Expression: expr},
				plugincel.OptionalVariableDeclarations{HasParams: params, HasAuthorizer: true}, env)
			if res.Error != nil {
				errs = append(errs, celError(cp.Child("expression"), expr, res.Error))
			}
		}
		if c.Name == "" {
			errs = append(errs, field.Required(cp.Child("name"), ""))
		} else {
			for _, msg := range utilvalidation.IsQualifiedName(c.Name) {
				errs = append(errs, field.Invalid(cp.Child("name"), c.Name, msg))
			}
			if names.Has(c.Name) {
				errs = append(errs, field.Duplicate(cp.Child("name"), c.Name))
			}
			names.Insert(c.Name)
		}
	}
	return errs
}

func celError(p *field.Path, expr string, err *apiservercel.Error) *field.Error {
	switch err.Type {
	case apiservercel.ErrorTypeRequired:
		return field.Required(p, err.Detail)
	case apiservercel.ErrorTypeInvalid:
		return field.Invalid(p, expr, err.Detail)
	default:
		return field.InternalError(p, err)
	}
}

var celCompiler = sync.OnceValue(func() plugincel.Compiler {
	return plugincel.NewCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
})

// updateOptions relaxes checks the old webhooks did not pass themselves.
func updateOptions(hooks, old []webhookFields) webhookOptions {
	opts := webhookOptions{requireNoSideEffects: true, requireKnownReview: true, requireUniqueNames: true, storedMatchConditions: sets.New[string]()}
	names := sets.New[string]()
	for _, h := range old {
		if h.sideEffects == nil || (*h.sideEffects != admissionregistrationv1.SideEffectClassNone && *h.sideEffects != admissionregistrationv1.SideEffectClassNoneOnDryRun) {
			opts.requireNoSideEffects = false
		}
		if len(h.reviewVersions) > 0 && !slices.ContainsFunc(h.reviewVersions, func(v string) bool { return slices.Contains(admissionReviewVersions, v) }) {
			opts.requireKnownReview = false
		}
		if names.Has(h.name) {
			opts.requireUniqueNames = false
		}
		names.Insert(h.name)
		for _, s := range []*metav1.LabelSelector{h.namespaceSelector, h.objectSelector} {
			if s != nil && len(metav1validation.ValidateLabelSelector(s, metav1validation.LabelSelectorValidationOptions{}, nil)) > 0 {
				opts.allowInvalidLabelValues = true
			}
		}
		for _, c := range h.matchConditions {
			opts.storedMatchConditions.Insert(strings.TrimSpace(c.Expression))
		}
	}
	// Unchanged match conditions are not compiled again.
	if len(hooks) == len(old) {
		same := true
		for i := range hooks {
			same = same && reflect.DeepEqual(hooks[i].matchConditions, old[i].matchConditions)
		}
		opts.skipMatchConditions = same
	}
	return opts
}
