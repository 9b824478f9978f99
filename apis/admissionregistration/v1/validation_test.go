package v1

import (
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

func goodHook() admissionregistrationv1.ValidatingWebhook {
	return admissionregistrationv1.ValidatingWebhook{
		Name: "check.example.com",
		Rules: []admissionregistrationv1.RuleWithOperations{{
			Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
			Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
		}},
		ClientConfig:            admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: "ns", Name: "svc"}},
		SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
		AdmissionReviewVersions: []string{"v1"},
	}
}

func defaulted(hooks ...admissionregistrationv1.ValidatingWebhook) *admissionregistrationv1.ValidatingWebhookConfiguration {
	c := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Webhooks: hooks}
	for i := range c.Webhooks {
		DefaultValidatingWebhook(&c.Webhooks[i])
	}
	return c
}

func TestDefaults(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := Install(scheme); err != nil {
		t.Fatal(err)
	}
	m := &admissionregistrationv1.MutatingWebhookConfiguration{Webhooks: []admissionregistrationv1.MutatingWebhook{{
		Name:         "m.example.com",
		Rules:        []admissionregistrationv1.RuleWithOperations{{}},
		ClientConfig: admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{}},
	}}}
	scheme.Default(m)
	w := m.Webhooks[0]
	if *w.FailurePolicy != admissionregistrationv1.Fail || *w.MatchPolicy != admissionregistrationv1.Equivalent || *w.TimeoutSeconds != 10 ||
		*w.ReinvocationPolicy != admissionregistrationv1.NeverReinvocationPolicy || w.NamespaceSelector == nil || w.ObjectSelector == nil ||
		*w.Rules[0].Scope != admissionregistrationv1.AllScopes || *w.ClientConfig.Service.Port != 443 {
		t.Errorf("defaults: %+v", w)
	}
	if w.SideEffects != nil || w.AdmissionReviewVersions != nil {
		t.Errorf("v1 has no default for sideEffects or admissionReviewVersions: %+v", w)
	}
	p := &admissionregistrationv1.ValidatingAdmissionPolicy{Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
		MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{}}},
	}}
	scheme.Default(p)
	mc := p.Spec.MatchConstraints
	if *p.Spec.FailurePolicy != admissionregistrationv1.Fail || *mc.MatchPolicy != admissionregistrationv1.Equivalent ||
		mc.NamespaceSelector == nil || mc.ObjectSelector == nil || *mc.ResourceRules[0].Scope != admissionregistrationv1.AllScopes {
		t.Errorf("policy defaults: %+v", p.Spec)
	}
}

func TestValidateWebhookConfiguration(t *testing.T) {
	if errs := ValidateValidatingWebhookConfiguration(defaulted(goodHook())); len(errs) != 0 {
		t.Fatalf("a good configuration: %v", errs)
	}
	for name, tc := range map[string]struct {
		change func(*admissionregistrationv1.ValidatingWebhook)
		want   string
	}{
		"short name": {func(w *admissionregistrationv1.ValidatingWebhook) { w.Name = "check" },
			"webhooks[0].name: Invalid value: \"check\": should be a domain with at least three segments separated by dots"},
		"no side effects": {func(w *admissionregistrationv1.ValidatingWebhook) { w.SideEffects = nil },
			"webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun"},
		"side effects Some": {func(w *admissionregistrationv1.ValidatingWebhook) {
			w.SideEffects = ptr.To(admissionregistrationv1.SideEffectClassSome)
		},
			"webhooks[0].sideEffects: Unsupported value: \"Some\""},
		"no review versions": {func(w *admissionregistrationv1.ValidatingWebhook) { w.AdmissionReviewVersions = nil },
			"webhooks[0].admissionReviewVersions: Required value: must specify one of v1, v1beta1"},
		"unknown review version": {func(w *admissionregistrationv1.ValidatingWebhook) { w.AdmissionReviewVersions = []string{"v2"} },
			"must include at least one of v1, v1beta1"},
		"timeout": {func(w *admissionregistrationv1.ValidatingWebhook) { w.TimeoutSeconds = ptr.To[int32](31) },
			"webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 and 30 seconds"},
		"url and service": {func(w *admissionregistrationv1.ValidatingWebhook) { w.ClientConfig.URL = ptr.To("https://example.com") },
			"webhooks[0].clientConfig: Required value: exactly one of url or service is required"},
		"http url": {func(w *admissionregistrationv1.ValidatingWebhook) {
			w.ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: ptr.To("http://example.com/check")}
		}, "'https' is the only allowed URL scheme"},
		"service without a name": {func(w *admissionregistrationv1.ValidatingWebhook) { w.ClientConfig.Service.Name = "" },
			"webhooks[0].clientConfig.service.name: Required value"},
		"operation": {func(w *admissionregistrationv1.ValidatingWebhook) {
			w.Rules[0].Operations = []admissionregistrationv1.OperationType{"PATCH"}
		},
			"webhooks[0].rules[0].operations[0]: Unsupported value: \"PATCH\""},
		"wildcard and more": {func(w *admissionregistrationv1.ValidatingWebhook) { w.Rules[0].Resources = []string{"*/*", "pods"} },
			"if '*/*' is present, must not specify other resources"},
		"covered subresource": {func(w *admissionregistrationv1.ValidatingWebhook) {
			w.Rules[0].Resources = []string{"pods/*", "pods/status"}
		},
			"webhooks[0].rules[0].resources[1]: Invalid value: \"pods/status\": if 'pods/*' is present, must not specify pods/status"},
		"scope": {func(w *admissionregistrationv1.ValidatingWebhook) {
			w.Rules[0].Scope = ptr.To(admissionregistrationv1.ScopeType("Node"))
		},
			"webhooks[0].rules[0].scope: Unsupported value: \"Node\""},
		"bad selector": {func(w *admissionregistrationv1.ValidatingWebhook) {
			w.ObjectSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Near"}}}
		}, "webhooks[0].objectSelector.matchExpressions[0].operator: Invalid value: \"Near\""},
		"condition that does not compile": {func(w *admissionregistrationv1.ValidatingWebhook) {
			w.MatchConditions = []admissionregistrationv1.MatchCondition{{Name: "c", Expression: "object.metadata.name =="}}
		}, "webhooks[0].matchConditions[0].expression: Invalid value: \"object.metadata.name ==\": compilation failed"},
		"condition that is not a boolean": {func(w *admissionregistrationv1.ValidatingWebhook) {
			w.MatchConditions = []admissionregistrationv1.MatchCondition{{Name: "c", Expression: "'a'"}}
		}, "must evaluate to bool"},
		"condition with params": {func(w *admissionregistrationv1.ValidatingWebhook) {
			w.MatchConditions = []admissionregistrationv1.MatchCondition{{Name: "c", Expression: "params.x == 1"}}
		}, "undeclared reference to 'params'"},
		"duplicate condition names": {func(w *admissionregistrationv1.ValidatingWebhook) {
			w.MatchConditions = []admissionregistrationv1.MatchCondition{{Name: "c", Expression: "true"}, {Name: "c", Expression: "request.namespace != 'kube-system'"}}
		}, "webhooks[0].matchConditions[1].name: Duplicate value: \"c\""},
	} {
		t.Run(name, func(t *testing.T) {
			h := goodHook()
			tc.change(&h)
			errs := ValidateValidatingWebhookConfiguration(defaulted(h))
			if !strings.Contains(errs.ToAggregate().Error(), tc.want) {
				t.Errorf("errors %v, want one containing %q", errs, tc.want)
			}
		})
	}

	// Webhook names are unique within a configuration.
	errs := ValidateValidatingWebhookConfiguration(defaulted(goodHook(), goodHook()))
	if !strings.Contains(errs.ToAggregate().Error(), `webhooks[1].name: Duplicate value: "check.example.com"`) {
		t.Errorf("duplicate webhooks: %v", errs)
	}
	// A mutating webhook's reinvocation policy is checked too.
	m := &admissionregistrationv1.MutatingWebhookConfiguration{Webhooks: []admissionregistrationv1.MutatingWebhook{{
		Name: "m.example.com", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: ptr.To("https://127.0.0.1:9443/mutate")},
		SideEffects: ptr.To(admissionregistrationv1.SideEffectClassNone), AdmissionReviewVersions: []string{"v1"},
		ReinvocationPolicy: ptr.To(admissionregistrationv1.ReinvocationPolicyType("Always")),
	}}}
	DefaultMutatingWebhook(&m.Webhooks[0])
	if errs := ValidateMutatingWebhookConfiguration(m); len(errs) != 1 || !strings.Contains(errs[0].Error(), `webhooks[0].reinvocationPolicy: Unsupported value: "Always"`) {
		t.Errorf("reinvocation policy: %v", errs)
	}
}

func TestValidateWebhookConfigurationUpdate(t *testing.T) {
	// What an older server stored (side effects Unknown, duplicate names)
	// stays updatable; a new configuration may not have it.
	old := goodHook()
	old.SideEffects = ptr.To(admissionregistrationv1.SideEffectClassUnknown)
	oldC := defaulted(old, old)
	if errs := ValidateValidatingWebhookConfiguration(oldC); len(errs) != 3 {
		t.Fatalf("the old configuration is invalid when new: %v", errs)
	}
	newC := oldC.DeepCopy()
	newC.Webhooks[0].TimeoutSeconds = ptr.To[int32](5)
	if errs := ValidateValidatingWebhookConfigurationUpdate(newC, oldC); len(errs) != 0 {
		t.Errorf("update of an object stored by an older server: %v", errs)
	}
	// A strict old object keeps the new one strict.
	good := defaulted(goodHook())
	bad := good.DeepCopy()
	bad.Webhooks[0].SideEffects = ptr.To(admissionregistrationv1.SideEffectClassSome)
	if errs := ValidateValidatingWebhookConfigurationUpdate(bad, good); len(errs) != 1 {
		t.Errorf("side effects Some on update: %v", errs)
	}
}

func TestRows(t *testing.T) {
	row, _ := ValidatingWebhookConfigurationRow(defaulted(goodHook(), goodHook()))
	if row[0] != "c" || row[1] != int64(2) {
		t.Errorf("webhook configuration row %v", row)
	}
	p := &admissionregistrationv1.ValidatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
		ParamKind: &admissionregistrationv1.ParamKind{APIVersion: "v1", Kind: "ConfigMap"}, Validations: []admissionregistrationv1.Validation{{Expression: "true"}},
	}}
	if row, _ := PolicyRow(p); row[1] != int64(1) || row[2] != "v1/ConfigMap" {
		t.Errorf("policy row %v", row)
	}
	b := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
		PolicyName: "p", ParamRef: &admissionregistrationv1.ParamRef{Name: "limits"},
	}}
	if row, _ := BindingRow(b); row[1] != "p" || row[2] != "*/limits" {
		t.Errorf("binding row %v", row)
	}
}
