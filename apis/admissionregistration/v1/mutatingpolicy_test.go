package v1

import (
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

func goodMutatingPolicy(t *testing.T) *admissionregistrationv1.MutatingAdmissionPolicy {
	t.Helper()
	p := &admissionregistrationv1.MutatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "sidecar.example.com"},
		Spec: admissionregistrationv1.MutatingAdmissionPolicySpec{
			ParamKind: &admissionregistrationv1.ParamKind{APIVersion: "v1", Kind: "ConfigMap"},
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}},
				},
			}}},
			Variables: []admissionregistrationv1.Variable{{Name: "team", Expression: "params.data.team"}},
			Mutations: []admissionregistrationv1.Mutation{
				{PatchType: admissionregistrationv1.PatchTypeApplyConfiguration, ApplyConfiguration: &admissionregistrationv1.ApplyConfiguration{
					Expression: `Object{metadata: Object.metadata{labels: {"team": variables.team}}}`}},
				{PatchType: admissionregistrationv1.PatchTypeJSONPatch, JSONPatch: &admissionregistrationv1.JSONPatch{
					Expression: `[JSONPatch{op: "add", path: "/data/patched", value: "yes"}]`}},
			},
			ReinvocationPolicy: admissionregistrationv1.NeverReinvocationPolicy,
		},
	}
	scheme := runtime.NewScheme()
	if err := Install(scheme); err != nil {
		t.Fatal(err)
	}
	scheme.Default(p)
	return p
}

func TestValidateMutatingPolicy(t *testing.T) {
	good := goodMutatingPolicy(t)
	if *good.Spec.FailurePolicy != admissionregistrationv1.Fail || *good.Spec.MatchConstraints.MatchPolicy != admissionregistrationv1.Equivalent ||
		*good.Spec.MatchConstraints.ResourceRules[0].Scope != admissionregistrationv1.AllScopes {
		t.Errorf("defaults: %+v", good.Spec)
	}
	if errs := ValidateMutatingAdmissionPolicy(good); len(errs) != 0 {
		t.Fatalf("a good policy: %v", errs)
	}
	type spec = admissionregistrationv1.MutatingAdmissionPolicySpec
	for name, tc := range map[string]struct {
		change func(*spec)
		want   string
	}{
		"no mutations":           {func(s *spec) { s.Mutations = nil }, "spec.mutations: Required value: mutations must contain at least one item"},
		"no reinvocation policy": {func(s *spec) { s.ReinvocationPolicy = "" }, "spec.reinvocationPolicy: Required value"},
		"unknown reinvocation policy": {func(s *spec) { s.ReinvocationPolicy = "Always" },
			`spec.reinvocationPolicy: Unsupported value: "Always": supported values: "Never", "IfNeeded"`},
		"no patch type": {func(s *spec) { s.Mutations[0].PatchType = "" }, "spec.mutations[0].patchType: Required value"},
		"unknown patch type": {func(s *spec) { s.Mutations[0].PatchType = "MergePatch" },
			`spec.mutations[0].patchType: Unsupported value: "MergePatch"`},
		"patch type without its patch": {func(s *spec) { s.Mutations[1].JSONPatch = nil },
			"spec.mutations[1].jsonPatch: Required value: must be specified when patchType is JSONPatch"},
		"both patches": {func(s *spec) { s.Mutations[1].ApplyConfiguration = s.Mutations[0].ApplyConfiguration },
			"spec.mutations[1].applyConfiguration: Forbidden: must not be set when patchType is JSONPatch"},
		"expression that does not compile": {func(s *spec) { s.Mutations[0].ApplyConfiguration.Expression = "Object{" },
			`spec.mutations[0].applyConfiguration.expression: Invalid value: "Object{": compilation failed`},
		"expression of the wrong type": {func(s *spec) { s.Mutations[1].JSONPatch.Expression = "1" },
			"spec.mutations[1].jsonPatch.expression"},
		"unknown variable": {func(s *spec) {
			s.Mutations[0].ApplyConfiguration.Expression = `Object{metadata: Object.metadata{labels: {"team": variables.other}}}`
		}, "spec.mutations[0].applyConfiguration.expression"},
		"no match constraints": {func(s *spec) { s.MatchConstraints = nil }, "spec.matchConstraints: Required value"},
	} {
		t.Run(name, func(t *testing.T) {
			p := goodMutatingPolicy(t)
			tc.change(&p.Spec)
			errs := ValidateMutatingAdmissionPolicy(p)
			if !strings.Contains(errs.ToAggregate().Error(), tc.want) {
				t.Errorf("got %v, want %q", errs, tc.want)
			}
		})
	}

	// An update keeps accepting what the stored policy already had.
	updated := good.DeepCopy()
	updated.Spec.ReinvocationPolicy = admissionregistrationv1.IfNeededReinvocationPolicy
	if errs := ValidateMutatingAdmissionPolicyUpdate(updated, good); len(errs) != 0 {
		t.Errorf("update: %v", errs)
	}
}

func TestValidateMutatingPolicyBinding(t *testing.T) {
	b := &admissionregistrationv1.MutatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "sidecar-binding"},
		Spec: admissionregistrationv1.MutatingAdmissionPolicyBindingSpec{PolicyName: "sidecar.example.com",
			ParamRef: &admissionregistrationv1.ParamRef{Name: "team", Namespace: "default", ParameterNotFoundAction: ptr.To(admissionregistrationv1.DenyAction)}},
	}
	if errs := ValidateMutatingAdmissionPolicyBinding(b); len(errs) != 0 {
		t.Fatalf("a good binding: %v", errs)
	}
	row, err := MutatingBindingRow(b)
	if err != nil || row[1] != "sidecar.example.com" || row[2] != "default/team" {
		t.Errorf("row %v %v", row, err)
	}
	b.Spec.PolicyName = ""
	b.Spec.ParamRef.ParameterNotFoundAction = nil
	errs := ValidateMutatingAdmissionPolicyBinding(b).ToAggregate().Error()
	for _, want := range []string{"spec.policyName: Required value", "spec.paramRef.parameterNotFoundAction: Required value"} {
		if !strings.Contains(errs, want) {
			t.Errorf("got %s, want %q", errs, want)
		}
	}
}
