package v1

import (
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func goodPolicy() *admissionregistrationv1.ValidatingAdmissionPolicy {
	p := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "replicas.example.com"},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			ParamKind: &admissionregistrationv1.ParamKind{APIVersion: "v1", Kind: "ConfigMap"},
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}},
				},
			}}},
			Variables: []admissionregistrationv1.Variable{{Name: "replicas", Expression: "object.spec.replicas"}},
			Validations: []admissionregistrationv1.Validation{{
				Expression:        "variables.replicas <= int(params.data.max)",
				MessageExpression: "'at most ' + params.data.max + ' replicas'",
			}},
			AuditAnnotations: []admissionregistrationv1.AuditAnnotation{{Key: "high-replicas", ValueExpression: "string(variables.replicas)"}},
		},
	}
	defaultPolicySpec(&p.Spec)
	return p
}

func TestValidatePolicy(t *testing.T) {
	if errs := ValidateValidatingAdmissionPolicy(goodPolicy()); len(errs) != 0 {
		t.Fatalf("a good policy: %v", errs)
	}
	for name, tc := range map[string]struct {
		change func(*admissionregistrationv1.ValidatingAdmissionPolicySpec)
		want   string
	}{
		"no match constraints": {func(s *admissionregistrationv1.ValidatingAdmissionPolicySpec) { s.MatchConstraints = nil },
			"spec.matchConstraints: Required value"},
		"no resource rules": {func(s *admissionregistrationv1.ValidatingAdmissionPolicySpec) { s.MatchConstraints.ResourceRules = nil },
			"spec.matchConstraints.resourceRules: Required value"},
		"nothing to check": {func(s *admissionregistrationv1.ValidatingAdmissionPolicySpec) {
			s.Validations, s.AuditAnnotations = nil, nil
		},
			"spec.validations: Required value: validations or auditAnnotations must contain at least one item"},
		"validation that does not compile": {func(s *admissionregistrationv1.ValidatingAdmissionPolicySpec) {
			s.Validations[0].Expression = "object.spec.replicas >"
		},
			"spec.validations[0].expression: Invalid value: \"object.spec.replicas >\": compilation failed"},
		"params without a param kind": {func(s *admissionregistrationv1.ValidatingAdmissionPolicySpec) { s.ParamKind = nil },
			"undeclared reference to 'params'"},
		"unknown variable": {func(s *admissionregistrationv1.ValidatingAdmissionPolicySpec) {
			s.Validations[0].Expression = "variables.other > 1"
		},
			"spec.validations[0].expression"},
		"variable name": {func(s *admissionregistrationv1.ValidatingAdmissionPolicySpec) { s.Variables[0].Name = "1st" },
			"spec.variables[0].name: Invalid value: \"1st\": name is not a valid CEL identifier"},
		"message with a line break": {func(s *admissionregistrationv1.ValidatingAdmissionPolicySpec) { s.Validations[0].Message = "too\nmany" },
			"spec.validations[0].message: Invalid value: \"too\\nmany\": message must not contain line breaks"},
		"reason": {func(s *admissionregistrationv1.ValidatingAdmissionPolicySpec) {
			s.Validations[0].Reason = ptr.To(metav1.StatusReasonNotFound)
		}, "spec.validations[0].reason: Unsupported value: \"NotFound\""},
		"param kind": {func(s *admissionregistrationv1.ValidatingAdmissionPolicySpec) { s.ParamKind.Kind = "" },
			"spec.paramKind.kind: Required value"},
		"duplicate audit annotation": {func(s *admissionregistrationv1.ValidatingAdmissionPolicySpec) {
			s.AuditAnnotations = append(s.AuditAnnotations, s.AuditAnnotations[0])
		}, "spec.auditAnnotations[1].key: Duplicate value: \"high-replicas\""},
		"failure policy": {func(s *admissionregistrationv1.ValidatingAdmissionPolicySpec) {
			s.FailurePolicy = ptr.To(admissionregistrationv1.FailurePolicyType("Retry"))
		}, "spec.failurePolicy: Unsupported value: \"Retry\""},
	} {
		t.Run(name, func(t *testing.T) {
			p := goodPolicy()
			tc.change(&p.Spec)
			errs := ValidateValidatingAdmissionPolicy(p)
			if !strings.Contains(errs.ToAggregate().Error(), tc.want) {
				t.Errorf("errors %v, want one containing %q", errs, tc.want)
			}
		})
	}
	// An update leaves unchanged match conditions alone and may change the
	// rest.
	old := goodPolicy()
	p := old.DeepCopy()
	p.Spec.Validations[0].Message = "too many replicas"
	if errs := ValidateValidatingAdmissionPolicyUpdate(p, old); len(errs) != 0 {
		t.Errorf("update: %v", errs)
	}
	// Status: a type-checking warning needs a valid field reference.
	p.Status.TypeChecking = &admissionregistrationv1.TypeChecking{ExpressionWarnings: []admissionregistrationv1.ExpressionWarning{{FieldRef: "spec.validations[0", Warning: "w"}}}
	if errs := ValidateValidatingAdmissionPolicyStatus(p, old); len(errs) != 1 || !strings.Contains(errs[0].Error(), "invalid JSONPath") {
		t.Errorf("status: %v", errs)
	}
}

func TestValidateBinding(t *testing.T) {
	good := func() *admissionregistrationv1.ValidatingAdmissionPolicyBinding {
		return &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "b"},
			Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
				PolicyName:        "replicas.example.com",
				ParamRef:          &admissionregistrationv1.ParamRef{Name: "limits", ParameterNotFoundAction: ptr.To(admissionregistrationv1.DenyAction)},
				ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			},
		}
	}
	if errs := ValidateValidatingAdmissionPolicyBinding(good()); len(errs) != 0 {
		t.Fatalf("a good binding: %v", errs)
	}
	for name, tc := range map[string]struct {
		change func(*admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec)
		want   string
	}{
		"no policy": {func(s *admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec) { s.PolicyName = "" }, "spec.policyName: Required value"},
		"no actions": {func(s *admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec) { s.ValidationActions = nil },
			"spec.validationActions: Required value: at least one validation action is required"},
		"deny and warn": {func(s *admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec) {
			s.ValidationActions = []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny, admissionregistrationv1.Warn}
		}, "must not contain both Deny and Warn"},
		"name and selector": {func(s *admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec) {
			s.ParamRef.Selector = &metav1.LabelSelector{}
		},
			"spec.paramRef.name: Forbidden: name and selector are mutually exclusive"},
		"neither name nor selector": {func(s *admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec) { s.ParamRef.Name = "" },
			"spec.paramRef: Required value: one of name or selector must be specified"},
		"no not-found action": {func(s *admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec) {
			s.ParamRef.ParameterNotFoundAction = nil
		},
			"spec.paramRef.parameterNotFoundAction: Required value"},
	} {
		t.Run(name, func(t *testing.T) {
			b := good()
			tc.change(&b.Spec)
			errs := ValidateValidatingAdmissionPolicyBinding(b)
			if !strings.Contains(errs.ToAggregate().Error(), tc.want) {
				t.Errorf("errors %v, want one containing %q", errs, tc.want)
			}
		})
	}
}

func TestIsCELIdentifier(t *testing.T) {
	for name, want := range map[string]bool{"replicas": true, "_x1": true, "1st": false, "in": false, "a-b": false, "": false} {
		if got := isCELIdentifier(name); got != want {
			t.Errorf("isCELIdentifier(%q) = %v", name, got)
		}
	}
}
