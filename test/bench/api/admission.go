package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/test/bench"
)

// Kinds of admission extension the latency of a create is measured with;
// each selects the ConfigMaps labelled with its name.
var extensions = []string{"none", "webhook", "policy", "mutating-policy"}

// admissionLatency creates creates ConfigMaps one after another with no
// admission extension, with one no-op validating webhook (served here
// over TLS on loopback), with one CEL ValidatingAdmissionPolicy and with
// one CEL MutatingAdmissionPolicy that sets a label by apply
// configuration, and returns each kind's p50 and p99 in ms.
func admissionLatency(ctx context.Context, cfg *rest.Config, creates int, ns string) map[string][2]float64 {
	c := ownConnection(cfg)
	_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	bench.Must(err)
	defer func() { _ = c.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) }()

	hook := httptest.NewTLSServer(http.HandlerFunc(allowAll))
	defer hook.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hook.Certificate().Raw})
	name := "bench-" + ns
	rules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}},
	}}
	selector := func(kind string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{"bench-admission": kind}}
	}
	_, err = c.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "noop.bench.skiff.dev", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: ptr.To(hook.URL), CABundle: ca},
			Rules: rules, ObjectSelector: selector("webhook"), SideEffects: ptr.To(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
		}},
	}, metav1.CreateOptions{})
	bench.Must(err)
	defer func() {
		_ = c.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(context.Background(), name, metav1.DeleteOptions{})
	}()
	_, err = c.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{RuleWithOperations: rules[0]}}},
			Validations:      []admissionregistrationv1.Validation{{Expression: "object.metadata.name.size() < 64"}},
		},
	}, metav1.CreateOptions{})
	bench.Must(err)
	_, err = c.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: name, ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{ObjectSelector: selector("policy")}},
	}, metav1.CreateOptions{})
	bench.Must(err)
	defer func() {
		_ = c.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Delete(context.Background(), name, metav1.DeleteOptions{})
		_ = c.AdmissionregistrationV1().ValidatingAdmissionPolicies().Delete(context.Background(), name, metav1.DeleteOptions{})
	}()
	_, err = c.AdmissionregistrationV1().MutatingAdmissionPolicies().Create(ctx, &admissionregistrationv1.MutatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.MutatingAdmissionPolicySpec{
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{RuleWithOperations: rules[0]}}},
			Mutations: []admissionregistrationv1.Mutation{{PatchType: admissionregistrationv1.PatchTypeApplyConfiguration,
				ApplyConfiguration: &admissionregistrationv1.ApplyConfiguration{Expression: `Object{metadata: Object.metadata{labels: {"mutated": "yes"}}}`}}},
			ReinvocationPolicy: admissionregistrationv1.NeverReinvocationPolicy,
		},
	}, metav1.CreateOptions{})
	bench.Must(err)
	_, err = c.AdmissionregistrationV1().MutatingAdmissionPolicyBindings().Create(ctx, &admissionregistrationv1.MutatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.MutatingAdmissionPolicyBindingSpec{PolicyName: name,
			MatchResources: &admissionregistrationv1.MatchResources{ObjectSelector: selector("mutating-policy")}},
	}, metav1.CreateOptions{})
	bench.Must(err)
	defer func() {
		_ = c.AdmissionregistrationV1().MutatingAdmissionPolicyBindings().Delete(context.Background(), name, metav1.DeleteOptions{})
		_ = c.AdmissionregistrationV1().MutatingAdmissionPolicies().Delete(context.Background(), name, metav1.DeleteOptions{})
	}()
	waitEnforced(ctx, c, ns)

	// The kinds take turns, so that a drift of the machine's speed during
	// the run falls on all of them alike.
	lat := map[string][]float64{}
	for i := range creates {
		for _, kind := range extensions {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", kind, i), Labels: map[string]string{"bench-admission": kind}}}
			t0 := time.Now()
			_, err := c.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
			bench.Must(err)
			lat[kind] = append(lat[kind], float64(time.Since(t0).Microseconds())/1000)
		}
	}
	out := map[string][2]float64{}
	for kind, l := range lat {
		slices.Sort(l)
		out[kind] = [2]float64{l[len(l)/2], l[min(len(l)-1, len(l)*99/100)]}
	}
	return out
}

// waitEnforced waits until the webhook has been called, the validating
// policy refuses what it should (a name of 64 characters or more) and the
// mutating policy labels, so that no measurement runs before the plugins
// have seen their configurations.
func waitEnforced(ctx context.Context, c kubernetes.Interface, ns string) {
	deadline := time.Now().Add(time.Minute)
	for {
		long := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%064d", time.Now().UnixNano()), Labels: map[string]string{"bench-admission": "policy"}}}
		_, policyErr := c.CoreV1().ConfigMaps(ns).Create(ctx, long, metav1.CreateOptions{})
		probe := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-", Labels: map[string]string{"bench-admission": "webhook"}}}
		called := calls.Load()
		_, err := c.CoreV1().ConfigMaps(ns).Create(ctx, probe, metav1.CreateOptions{})
		bench.Must(err)
		mutated, err := c.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-",
			Labels: map[string]string{"bench-admission": "mutating-policy"}}}, metav1.CreateOptions{})
		bench.Must(err)
		if policyErr != nil && calls.Load() > called && mutated.Labels["mutated"] == "yes" {
			return
		}
		if time.Now().After(deadline) {
			bench.Must(fmt.Errorf("the webhook or a policy was not in effect within a minute (validating policy: %v, mutated labels: %v)", policyErr, mutated.Labels))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// calls counts the webhook's calls.
var calls atomic.Int64

// allowAll is a validating webhook that allows every request.
func allowAll(w http.ResponseWriter, r *http.Request) {
	calls.Add(1)
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(r.Body).Decode(&review); err != nil || review.Request == nil {
		http.Error(w, "bad review", http.StatusBadRequest)
		return
	}
	review.Response = &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
	review.Request = nil
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&review)
}
