// Package v1 holds skiff's behaviour for admissionregistration.k8s.io/v1:
// scheme installation, the defaults kube-apiserver applies to webhook
// configurations and admission policies, their validation and kubectl
// table columns.
package v1

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/apis/internalversion"
	"github.com/skiffhq/skiff/apis/table"
)

// Upstream's defaults for a webhook's timeout and a service's port.
const (
	DefaultTimeoutSeconds = int32(10)
	DefaultServicePort    = int32(443)
)

// Install registers admissionregistration.k8s.io/v1 and its defaults in a
// scheme.
func Install(scheme *runtime.Scheme) error {
	if err := internalversion.Installer(admissionregistrationv1.AddToScheme, admissionregistrationv1.SchemeGroupVersion)(scheme); err != nil {
		return err
	}
	scheme.AddTypeDefaultingFunc(&admissionregistrationv1.ValidatingWebhookConfiguration{}, func(o any) {
		c := o.(*admissionregistrationv1.ValidatingWebhookConfiguration)
		for i := range c.Webhooks {
			DefaultValidatingWebhook(&c.Webhooks[i])
		}
	})
	scheme.AddTypeDefaultingFunc(&admissionregistrationv1.MutatingWebhookConfiguration{}, func(o any) {
		c := o.(*admissionregistrationv1.MutatingWebhookConfiguration)
		for i := range c.Webhooks {
			DefaultMutatingWebhook(&c.Webhooks[i])
		}
	})
	scheme.AddTypeDefaultingFunc(&admissionregistrationv1.ValidatingAdmissionPolicy{}, func(o any) {
		defaultPolicySpec(&o.(*admissionregistrationv1.ValidatingAdmissionPolicy).Spec)
	})
	scheme.AddTypeDefaultingFunc(&admissionregistrationv1.ValidatingAdmissionPolicyBinding{}, func(o any) {
		if m := o.(*admissionregistrationv1.ValidatingAdmissionPolicyBinding).Spec.MatchResources; m != nil {
			defaultMatchResources(m)
		}
	})
	scheme.AddTypeDefaultingFunc(&admissionregistrationv1.MutatingAdmissionPolicy{}, func(o any) {
		s := &o.(*admissionregistrationv1.MutatingAdmissionPolicy).Spec
		if s.FailurePolicy == nil {
			s.FailurePolicy = ptr.To(admissionregistrationv1.Fail)
		}
		if s.MatchConstraints != nil {
			defaultMatchResources(s.MatchConstraints)
		}
	})
	scheme.AddTypeDefaultingFunc(&admissionregistrationv1.MutatingAdmissionPolicyBinding{}, func(o any) {
		if m := o.(*admissionregistrationv1.MutatingAdmissionPolicyBinding).Spec.MatchResources; m != nil {
			defaultMatchResources(m)
		}
	})
	return nil
}

// DefaultValidatingWebhook fills in what kube-apiserver fills in: failure
// policy Fail, match policy Equivalent, empty (match-all) selectors, a 10 s
// timeout, scope "*" on each rule and port 443 on a service reference.
func DefaultValidatingWebhook(w *admissionregistrationv1.ValidatingWebhook) {
	defaultCommon(&w.FailurePolicy, &w.MatchPolicy, &w.NamespaceSelector, &w.ObjectSelector, &w.TimeoutSeconds, w.Rules, &w.ClientConfig)
}

// DefaultMutatingWebhook is DefaultValidatingWebhook plus reinvocation
// policy Never.
func DefaultMutatingWebhook(w *admissionregistrationv1.MutatingWebhook) {
	defaultCommon(&w.FailurePolicy, &w.MatchPolicy, &w.NamespaceSelector, &w.ObjectSelector, &w.TimeoutSeconds, w.Rules, &w.ClientConfig)
	if w.ReinvocationPolicy == nil {
		w.ReinvocationPolicy = ptr.To(admissionregistrationv1.NeverReinvocationPolicy)
	}
}

func defaultCommon(failure **admissionregistrationv1.FailurePolicyType, match **admissionregistrationv1.MatchPolicyType,
	namespaces, objects **metav1.LabelSelector, timeout **int32, rules []admissionregistrationv1.RuleWithOperations,
	cc *admissionregistrationv1.WebhookClientConfig) {
	if *failure == nil {
		*failure = ptr.To(admissionregistrationv1.Fail)
	}
	if *match == nil {
		*match = ptr.To(admissionregistrationv1.Equivalent)
	}
	if *namespaces == nil {
		*namespaces = &metav1.LabelSelector{}
	}
	if *objects == nil {
		*objects = &metav1.LabelSelector{}
	}
	if *timeout == nil {
		*timeout = ptr.To(DefaultTimeoutSeconds)
	}
	for i := range rules {
		defaultRule(&rules[i].Rule)
	}
	if cc.Service != nil && cc.Service.Port == nil {
		cc.Service.Port = ptr.To(DefaultServicePort)
	}
}

func defaultRule(r *admissionregistrationv1.Rule) {
	if r.Scope == nil {
		r.Scope = ptr.To(admissionregistrationv1.AllScopes)
	}
}

func defaultPolicySpec(s *admissionregistrationv1.ValidatingAdmissionPolicySpec) {
	if s.FailurePolicy == nil {
		s.FailurePolicy = ptr.To(admissionregistrationv1.Fail)
	}
	if s.MatchConstraints != nil {
		defaultMatchResources(s.MatchConstraints)
	}
}

func defaultMatchResources(m *admissionregistrationv1.MatchResources) {
	if m.MatchPolicy == nil {
		m.MatchPolicy = ptr.To(admissionregistrationv1.Equivalent)
	}
	if m.NamespaceSelector == nil {
		m.NamespaceSelector = &metav1.LabelSelector{}
	}
	if m.ObjectSelector == nil {
		m.ObjectSelector = &metav1.LabelSelector{}
	}
	for i := range m.ResourceRules {
		defaultRule(&m.ResourceRules[i].Rule)
	}
	for i := range m.ExcludeResourceRules {
		defaultRule(&m.ExcludeResourceRules[i].Rule)
	}
}

// WebhookConfigurationColumns are the columns of kubectl get
// validatingwebhookconfigurations and mutatingwebhookconfigurations.
var WebhookConfigurationColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Webhooks", "integer", "Webhooks indicates the number of webhooks registered in this configuration"),
	table.AgeColumn,
}

// ValidatingWebhookConfigurationRow renders a validating webhook
// configuration.
func ValidatingWebhookConfigurationRow(obj runtime.Object) ([]any, error) {
	c := obj.(*admissionregistrationv1.ValidatingWebhookConfiguration)
	return []any{c.Name, int64(len(c.Webhooks)), table.Age(c.CreationTimestamp)}, nil
}

// MutatingWebhookConfigurationRow renders a mutating webhook configuration.
func MutatingWebhookConfigurationRow(obj runtime.Object) ([]any, error) {
	c := obj.(*admissionregistrationv1.MutatingWebhookConfiguration)
	return []any{c.Name, int64(len(c.Webhooks)), table.Age(c.CreationTimestamp)}, nil
}

// PolicyColumns are the columns of kubectl get
// validatingadmissionpolicies.
var PolicyColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Validations", "integer", "Validations indicates the number of validation rules defined in this configuration"),
	table.Column("ParamKind", "string", "ParamKind specifies the kind of resources used to parameterize this policy"),
	table.AgeColumn,
}

// PolicyRow renders a validating admission policy.
func PolicyRow(obj runtime.Object) ([]any, error) {
	p := obj.(*admissionregistrationv1.ValidatingAdmissionPolicy)
	return []any{p.Name, int64(len(p.Spec.Validations)), paramKindString(p.Spec.ParamKind), table.Age(p.CreationTimestamp)}, nil
}

// paramKindString shows a policy's parameter kind as kubectl does.
func paramKindString(k *admissionregistrationv1.ParamKind) string {
	if k == nil {
		return "<unset>"
	}
	return k.APIVersion + "/" + k.Kind
}

// BindingColumns are the columns of kubectl get
// validatingadmissionpolicybindings.
var BindingColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("PolicyName", "string", "PolicyName indicates the policy definition which the policy binding binded to"),
	table.Column("ParamRef", "string", "ParamRef indicates the param resource which sets the configration param"),
	table.AgeColumn,
}

// BindingRow renders a validating admission policy binding.
func BindingRow(obj runtime.Object) ([]any, error) {
	b := obj.(*admissionregistrationv1.ValidatingAdmissionPolicyBinding)
	return []any{b.Name, b.Spec.PolicyName, paramRefString(b.Spec.ParamRef), table.Age(b.CreationTimestamp)}, nil
}

// paramRefString shows a binding's parameter reference as kubectl does.
func paramRefString(r *admissionregistrationv1.ParamRef) string {
	switch {
	case r == nil:
		return "<unset>"
	case r.Name != "" && r.Namespace != "":
		return r.Namespace + "/" + r.Name
	case r.Name != "":
		return "*/" + r.Name
	case r.Selector != nil:
		return r.Selector.String()
	}
	return "<unset>"
}
