package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/test/testserver"
)

// webhookServer serves webhookHandler over TLS on loopback, and returns
// its base URL and CA bundle.
func webhookServer(t *testing.T) (string, []byte) {
	srv := httptest.NewTLSServer(webhookHandler())
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return srv.URL, ca
}

// serviceWebhookServer serves webhookHandler on this machine's first
// non-loopback IPv4 address (an EndpointSlice may not hold loopback
// addresses) with a certificate for NAME.NAMESPACE.svc, the name the API
// server expects of a webhook behind a Service. It returns the address,
// port and CA bundle.
func serviceWebhookServer(t *testing.T, namespace, name string) (string, int32, []byte) {
	t.Helper()
	var ip net.IP
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			ip = n.IP.To4()
			break
		}
	}
	if ip == nil {
		t.Skip("no non-loopback IPv4 address to put in an EndpointSlice")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	host := name + "." + namespace + ".svc"
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(webhookHandler())
	srv.Listener = l
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return ip.String(), int32(l.Addr().(*net.TCPAddr).Port), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// webhookHandler serves /mutate (adds the label mutated=yes), /validate
// (denies ConfigMaps with a key "forbidden") and /malformed (not JSON).
func webhookHandler() http.Handler {
	review := func(w http.ResponseWriter, r *http.Request, respond func(*admissionv1.AdmissionRequest, *admissionv1.AdmissionResponse)) {
		var ar admissionv1.AdmissionReview
		if err := json.NewDecoder(r.Body).Decode(&ar); err != nil || ar.Request == nil {
			http.Error(w, "bad review", http.StatusBadRequest)
			return
		}
		resp := &admissionv1.AdmissionResponse{UID: ar.Request.UID, Allowed: true}
		respond(ar.Request, resp)
		ar.Response, ar.Request = resp, nil
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(&ar)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/mutate", func(w http.ResponseWriter, r *http.Request) {
		review(w, r, func(req *admissionv1.AdmissionRequest, resp *admissionv1.AdmissionResponse) {
			var cm corev1.ConfigMap
			_ = json.Unmarshal(req.Object.Raw, &cm)
			op := `{"op":"add","path":"/metadata/labels","value":{"mutated":"yes"}}`
			if cm.Labels != nil {
				op = `{"op":"add","path":"/metadata/labels/mutated","value":"yes"}`
			}
			resp.Patch = []byte("[" + op + "]")
			resp.PatchType = ptr.To(admissionv1.PatchTypeJSONPatch)
		})
	})
	mux.HandleFunc("/validate", func(w http.ResponseWriter, r *http.Request) {
		review(w, r, func(req *admissionv1.AdmissionRequest, resp *admissionv1.AdmissionResponse) {
			var cm corev1.ConfigMap
			_ = json.Unmarshal(req.Object.Raw, &cm)
			if _, bad := cm.Data["forbidden"]; bad {
				resp.Allowed = false
				resp.Result = &metav1.Status{Message: "the key forbidden is not allowed"}
			}
		})
	})
	mux.HandleFunc("/malformed", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("{not json"))
	})
	// /copy-second sets the label first to the label second's value (or
	// "none"); /set-second sets second=yes. With /copy-second called first
	// and reinvocationPolicy IfNeeded, its second call sees second=yes.
	labelPatch := func(cm *corev1.ConfigMap, key, value string) []byte {
		if cm.Labels == nil {
			return []byte(fmt.Sprintf(`[{"op":"add","path":"/metadata/labels","value":{%q:%q}}]`, key, value))
		}
		return []byte(fmt.Sprintf(`[{"op":"add","path":"/metadata/labels/%s","value":%q}]`, key, value))
	}
	mux.HandleFunc("/copy-second", func(w http.ResponseWriter, r *http.Request) {
		review(w, r, func(req *admissionv1.AdmissionRequest, resp *admissionv1.AdmissionResponse) {
			var cm corev1.ConfigMap
			_ = json.Unmarshal(req.Object.Raw, &cm)
			value := cm.Labels["second"]
			if value == "" {
				value = "none"
			}
			resp.Patch, resp.PatchType = labelPatch(&cm, "first", value), ptr.To(admissionv1.PatchTypeJSONPatch)
		})
	})
	mux.HandleFunc("/set-second", func(w http.ResponseWriter, r *http.Request) {
		review(w, r, func(req *admissionv1.AdmissionRequest, resp *admissionv1.AdmissionResponse) {
			var cm corev1.ConfigMap
			_ = json.Unmarshal(req.Object.Raw, &cm)
			resp.Patch, resp.PatchType = labelPatch(&cm, "second", "yes"), ptr.To(admissionv1.PatchTypeJSONPatch)
		})
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		// Longer than the webhook's timeout; the API server gives up first.
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		review(w, r, func(*admissionv1.AdmissionRequest, *admissionv1.AdmissionResponse) {})
	})
	mux.HandleFunc("/badpatch", func(w http.ResponseWriter, r *http.Request) {
		review(w, r, func(_ *admissionv1.AdmissionRequest, resp *admissionv1.AdmissionResponse) {
			resp.Patch = []byte(`[{"op":"test","path":"/metadata/labels/case","value":"something else"}]`)
			resp.PatchType = ptr.To(admissionv1.PatchTypeJSONPatch)
		})
	})
	return mux
}

// TestAdmissionWebhooks checks that mutating and validating webhooks
// configured through admissionregistration.k8s.io/v1 are called: a patch
// is applied, a denial reaches the client with the webhook's message, and
// failurePolicy decides what an unreachable or broken webhook does.
func TestAdmissionWebhooks(t *testing.T) {
	srv := testserver.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	n := ns(t, c)
	base, ca := webhookServer(t)
	// Only ConfigMaps labelled hooked=yes go to the webhooks, so that the
	// server's own ConfigMaps (kube-root-ca.crt) are left alone.
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{"hooked": "yes"}}
	rules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}},
	}}
	none := ptr.To(admissionregistrationv1.SideEffectClassNone)
	configMap := func(name string, data map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"hooked": "yes"}}, Data: data}
	}

	// A configuration that is invalid is refused with field paths.
	_, err := c.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "invalid"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{Name: "v", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: ptr.To("http://x")},
			AdmissionReviewVersions: []string{"v1"}}},
	}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "webhooks[0].sideEffects: Required value") || !strings.Contains(err.Error(), "'https' is the only allowed URL scheme") {
		t.Errorf("an invalid configuration: %v, want 422 naming the fields", err)
	}

	m, err := c.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "label"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "label.skiff.test", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: ptr.To(base + "/mutate"), CABundle: ca},
			Rules: rules, ObjectSelector: selector, SideEffects: none, AdmissionReviewVersions: []string{"v1"},
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if w := m.Webhooks[0]; *w.FailurePolicy != admissionregistrationv1.Fail || *w.TimeoutSeconds != 10 || *w.ReinvocationPolicy != admissionregistrationv1.NeverReinvocationPolicy {
		t.Errorf("defaults of the stored webhook: %+v", w)
	}
	_, err = c.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "deny"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "deny.skiff.test", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: ptr.To(base + "/validate"), CABundle: ca},
			Rules: rules, ObjectSelector: selector, SideEffects: none, AdmissionReviewVersions: []string{"v1"},
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// The plugins see new configurations through their informers.
	waitFor(t, 30*time.Second, "the mutating webhook to label a ConfigMap", func() (bool, error) {
		cm := configMap("", nil)
		cm.GenerateName = "m-"
		cm, err := c.CoreV1().ConfigMaps(n).Create(ctx, cm, metav1.CreateOptions{})
		if err != nil {
			return false, nil
		}
		return cm.Labels["mutated"] == "yes", nil
	})
	waitFor(t, 30*time.Second, "the validating webhook to deny a ConfigMap", func() (bool, error) {
		cm := configMap("", map[string]string{"forbidden": "1"})
		cm.GenerateName = "v-"
		_, err := c.CoreV1().ConfigMaps(n).Create(ctx, cm, metav1.CreateOptions{})
		return err != nil && strings.Contains(err.Error(), `admission webhook "deny.skiff.test" denied the request: the key forbidden is not allowed`), nil
	})
	// An object the webhooks do not select is left alone.
	plain, err := c.CoreV1().ConfigMaps(n).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "plain"}, Data: map[string]string{"forbidden": "1"}}, metav1.CreateOptions{})
	if err != nil || plain.Labels["mutated"] != "" {
		t.Errorf("an object outside the selector: %v, labels %v", err, plain.Labels)
	}
	// A dry run calls webhooks with no side effects too.
	dry, err := c.CoreV1().ConfigMaps(n).Create(ctx, configMap("dry", nil), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil || dry.Labels["mutated"] != "yes" {
		t.Errorf("dry run: %v, labels %v", err, dry)
	}

	// failurePolicy: an unreachable webhook fails the request under Fail
	// and is skipped under Ignore; so is one that answers garbage.
	for _, tc := range []struct {
		name, url string
		policy    admissionregistrationv1.FailurePolicyType
		wantErr   string
	}{
		{"unreachable-fail", "https://127.0.0.1:1/validate", admissionregistrationv1.Fail, `failed calling webhook "unreachable-fail.skiff.test"`},
		{"unreachable-ignore", "https://127.0.0.1:1/validate", admissionregistrationv1.Ignore, ""},
		{"malformed-fail", base + "/malformed", admissionregistrationv1.Fail, `failed calling webhook "malformed-fail.skiff.test"`},
		{"slow-fail", base + "/slow", admissionregistrationv1.Fail, `failed calling webhook "slow-fail.skiff.test"`},
		{"slow-ignore", base + "/slow", admissionregistrationv1.Ignore, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			label := map[string]string{"case": tc.name}
			_, err := c.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{
				ObjectMeta: metav1.ObjectMeta{Name: tc.name},
				Webhooks: []admissionregistrationv1.ValidatingWebhook{{
					Name: tc.name + ".skiff.test", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: ptr.To(tc.url), CABundle: ca},
					Rules: rules, ObjectSelector: &metav1.LabelSelector{MatchLabels: label}, SideEffects: none, AdmissionReviewVersions: []string{"v1"},
					FailurePolicy: ptr.To(tc.policy), TimeoutSeconds: ptr.To[int32](2),
				}},
			}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantErr == "" {
				// Ignore: nothing to wait for; the request must succeed
				// whether or not the plugin has seen the configuration.
				if _, err := c.CoreV1().ConfigMaps(n).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "i-", Labels: label}}, metav1.CreateOptions{}); err != nil {
					t.Errorf("under Ignore: %v", err)
				}
				return
			}
			waitFor(t, 30*time.Second, "the webhook's failure to fail the request", func() (bool, error) {
				_, err := c.CoreV1().ConfigMaps(n).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "f-", Labels: label}}, metav1.CreateOptions{})
				return err != nil && strings.Contains(err.Error(), tc.wantErr), nil
			})
		})
	}

	// matchConditions (CEL) and namespaceSelector narrow which requests
	// reach a webhook.
	t.Run("match conditions and namespace selector", func(t *testing.T) {
		other := ns(t, c)
		nsObj, err := c.CoreV1().Namespaces().Get(ctx, n, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		nsObj.Labels["hooks"] = "on"
		if _, err := c.CoreV1().Namespaces().Update(ctx, nsObj, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		label := map[string]string{"case": "conditions"}
		_, err = c.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: "conditions"},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{
				Name: "conditions.skiff.test", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: ptr.To(base + "/validate"), CABundle: ca},
				Rules: rules, ObjectSelector: &metav1.LabelSelector{MatchLabels: label}, SideEffects: none, AdmissionReviewVersions: []string{"v1"},
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"hooks": "on"}},
				MatchConditions:   []admissionregistrationv1.MatchCondition{{Name: "deny-prefix", Expression: "object.metadata.name.startsWith('deny-')"}},
			}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		create := func(namespace, name string) error {
			_, err := c.CoreV1().ConfigMaps(namespace).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: label},
				Data: map[string]string{"forbidden": "1"}}, metav1.CreateOptions{})
			return err
		}
		i := 0
		waitFor(t, 30*time.Second, "the webhook to deny in the selected namespace", func() (bool, error) {
			i++
			err := create(n, fmt.Sprintf("deny-%d", i))
			return err != nil && strings.Contains(err.Error(), `admission webhook "conditions.skiff.test" denied the request`), nil
		})
		if err := create(n, "keep-1"); err != nil {
			t.Errorf("a name the match condition excludes: %v", err)
		}
		if err := create(other, "deny-1"); err != nil {
			t.Errorf("a namespace the selector excludes: %v", err)
		}
	})

	// reinvocationPolicy IfNeeded calls a mutating webhook again when a
	// later one changed the object; Never does not.
	for _, tc := range []struct {
		policy admissionregistrationv1.ReinvocationPolicyType
		want   string
	}{{admissionregistrationv1.IfNeededReinvocationPolicy, "yes"}, {admissionregistrationv1.NeverReinvocationPolicy, "none"}} {
		t.Run("reinvocation "+string(tc.policy), func(t *testing.T) {
			label := map[string]string{"case": "reinvoke-" + strings.ToLower(string(tc.policy))}
			hook := func(name, path string, policy admissionregistrationv1.ReinvocationPolicyType) *admissionregistrationv1.MutatingWebhookConfiguration {
				return &admissionregistrationv1.MutatingWebhookConfiguration{
					ObjectMeta: metav1.ObjectMeta{Name: name},
					Webhooks: []admissionregistrationv1.MutatingWebhook{{
						Name: name + ".skiff.test", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: ptr.To(base + path), CABundle: ca},
						Rules: rules, ObjectSelector: &metav1.LabelSelector{MatchLabels: label}, SideEffects: none, AdmissionReviewVersions: []string{"v1"},
						ReinvocationPolicy: ptr.To(policy),
					}},
				}
			}
			// Configurations are called in the order of their names.
			suffix := strings.ToLower(string(tc.policy))
			for _, h := range []*admissionregistrationv1.MutatingWebhookConfiguration{
				hook("a-copy-"+suffix, "/copy-second", tc.policy), hook("b-set-"+suffix, "/set-second", admissionregistrationv1.NeverReinvocationPolicy),
			} {
				if _, err := c.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, h, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, 30*time.Second, "both webhooks to have run", func() (bool, error) {
				cm, err := c.CoreV1().ConfigMaps(n).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "r-", Labels: label}}, metav1.CreateOptions{})
				if err != nil {
					return false, err
				}
				if cm.Labels["second"] != "yes" || cm.Labels["first"] == "" {
					return false, nil
				}
				if cm.Labels["first"] != tc.want {
					return false, fmt.Errorf("label first = %q under %s, want %q", cm.Labels["first"], tc.policy, tc.want)
				}
				return true, nil
			})
		})
	}

	// A mutating webhook whose patch does not apply fails the request, and
	// nothing is stored.
	t.Run("patch that does not apply", func(t *testing.T) {
		label := map[string]string{"case": "badpatch"}
		_, err := c.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: "badpatch"},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{
				Name: "badpatch.skiff.test", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: ptr.To(base + "/badpatch"), CABundle: ca},
				Rules: rules, ObjectSelector: &metav1.LabelSelector{MatchLabels: label}, SideEffects: none, AdmissionReviewVersions: []string{"v1"},
			}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "the patch's failure to fail the request", func() (bool, error) {
			cm, err := c.CoreV1().ConfigMaps(n).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "p-", Labels: label}}, metav1.CreateOptions{})
			if err == nil {
				// Created before the configuration reached the admission
				// informer: remove it, so that only the failed creates count.
				return false, c.CoreV1().ConfigMaps(n).Delete(ctx, cm.Name, metav1.DeleteOptions{})
			}
			// As kube-apiserver: a 500 naming the patch's failure.
			return apierrors.IsInternalError(err) && strings.Contains(err.Error(), "testing value /metadata/labels/case failed"), nil
		})
		if list, err := c.CoreV1().ConfigMaps(n).List(ctx, metav1.ListOptions{LabelSelector: "case=badpatch"}); err != nil || len(list.Items) != 0 {
			t.Errorf("stored despite the failed patch: %v %v", list, err)
		}
	})

	// A Service reference goes to one of the Service's ready endpoints,
	// with the certificate checked for NAME.NAMESPACE.svc.
	t.Run("service reference", func(t *testing.T) {
		ip, port, svcCA := serviceWebhookServer(t, n, "hooks")
		_, err := c.CoreV1().Services(n).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "hooks"},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "https", Port: 443, TargetPort: intstr.FromInt32(port)}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.DiscoveryV1().EndpointSlices(n).Create(ctx, &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: "hooks-1", Labels: map[string]string{discoveryv1.LabelServiceName: "hooks"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		label := map[string]string{"case": "service"}
		_, err = c.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: "service"},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{
				Name: "service.skiff.test",
				ClientConfig: admissionregistrationv1.WebhookClientConfig{CABundle: svcCA,
					Service: &admissionregistrationv1.ServiceReference{Namespace: n, Name: "hooks", Path: ptr.To("/validate")}},
				Rules: rules, ObjectSelector: &metav1.LabelSelector{MatchLabels: label}, SideEffects: none, AdmissionReviewVersions: []string{"v1"},
			}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "the webhook behind the Service to deny", func() (bool, error) {
			_, err := c.CoreV1().ConfigMaps(n).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "s-", Labels: label},
				Data: map[string]string{"forbidden": "1"}}, metav1.CreateOptions{})
			return err != nil && strings.Contains(err.Error(), `admission webhook "service.skiff.test" denied the request: the key forbidden is not allowed`), nil
		})
	})
}

// TestValidatingAdmissionPolicy checks a CEL policy with a parameter
// object: Deny refuses with the policy's message, Warn lets the request
// through with a warning, and a missing parameter is handled by the
// binding's parameterNotFoundAction.
func TestValidatingAdmissionPolicy(t *testing.T) {
	// An audit policy and log, to see the Audit action's annotations.
	dir := t.TempDir()
	auditPolicy, auditLog := filepath.Join(dir, "audit-policy.yaml"), filepath.Join(dir, "audit.log")
	if err := os.WriteFile(auditPolicy, []byte(`apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  resources: [{group: "", resources: [configmaps]}]
- level: None
`), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := testserver.Start(t, "--audit-policy-file", auditPolicy, "--audit-log-path", auditLog)
	c := srv.Client(t)
	ctx := context.Background()
	n := ns(t, c)
	if _, err := c.CoreV1().ConfigMaps(n).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "limits"}, Data: map[string]string{"max": "1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "max-keys.skiff.test"},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			ParamKind: &admissionregistrationv1.ParamKind{APIVersion: "v1", Kind: "ConfigMap"},
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}},
				},
			}}},
			Validations: []admissionregistrationv1.Validation{{
				Expression:        "!has(object.data) || object.data.size() <= int(params.data.max)",
				MessageExpression: "'at most ' + params.data.max + ' keys'",
			}},
			AuditAnnotations: []admissionregistrationv1.AuditAnnotation{{Key: "keys", ValueExpression: "has(object.data) ? string(object.data.size()) : '0'"}},
		},
	}
	got, err := c.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, policy, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *got.Spec.FailurePolicy != admissionregistrationv1.Fail || *got.Spec.MatchConstraints.MatchPolicy != admissionregistrationv1.Equivalent {
		t.Errorf("policy defaults: %+v", got.Spec)
	}
	bad := policy.DeepCopy()
	bad.Name = "broken.skiff.test"
	bad.Spec.Validations[0].Expression = "object.data.size() <"
	if _, err := c.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, bad, metav1.CreateOptions{}); !apierrors.IsInvalid(err) ||
		!strings.Contains(err.Error(), "spec.validations[0].expression") {
		t.Errorf("a policy that does not compile: %v, want 422", err)
	}

	// The type-checking status: a misspelt field is a warning (the
	// expression compiles, the type check finds no such field).
	typo := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "typo.skiff.test"},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}},
				},
			}}},
			Validations: []admissionregistrationv1.Validation{{Expression: "object.spec.replicas <= 5"}, {Expression: "object.spec.replicass <= 5"}},
		},
	}
	if _, err := c.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, typo, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the policy's type-checking status", func() (bool, error) {
		p, err := c.AdmissionregistrationV1().ValidatingAdmissionPolicies().Get(ctx, typo.Name, metav1.GetOptions{})
		if err != nil || p.Status.TypeChecking == nil {
			return false, err
		}
		w := p.Status.TypeChecking.ExpressionWarnings
		if len(w) != 1 || w[0].FieldRef != "spec.validations[1].expression" || !strings.Contains(w[0].Warning, "replicass") || p.Status.ObservedGeneration != p.Generation {
			return false, fmt.Errorf("type-checking status %+v (generation %d)", p.Status, p.Generation)
		}
		return true, nil
	})

	bind := func(name, selectorLabel string, action admissionregistrationv1.ValidationAction, param string) {
		t.Helper()
		_, err := c.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
				PolicyName: policy.Name,
				ParamRef:   &admissionregistrationv1.ParamRef{Name: param, Namespace: n, ParameterNotFoundAction: ptr.To(admissionregistrationv1.DenyAction)},
				MatchResources: &admissionregistrationv1.MatchResources{
					ObjectSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"policy": selectorLabel}},
				},
				ValidationActions: []admissionregistrationv1.ValidationAction{action},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	bind("deny", "deny", admissionregistrationv1.Deny, "limits")
	bind("warn", "warn", admissionregistrationv1.Warn, "limits")
	bind("missing", "missing", admissionregistrationv1.Deny, "absent")
	bind("audit", "audit", admissionregistrationv1.Audit, "limits")

	twoKeys := func(label string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: label + "-", Labels: map[string]string{"policy": label}}, Data: map[string]string{"a": "1", "b": "2"}}
	}
	waitFor(t, 30*time.Second, "the policy to deny", func() (bool, error) {
		_, err := c.CoreV1().ConfigMaps(n).Create(ctx, twoKeys("deny"), metav1.CreateOptions{})
		return err != nil && strings.Contains(err.Error(), "ValidatingAdmissionPolicy 'max-keys.skiff.test' with binding 'deny' denied request: at most 1 keys"), nil
	})
	if _, err := c.CoreV1().ConfigMaps(n).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "ok-", Labels: map[string]string{"policy": "deny"}},
		Data: map[string]string{"a": "1"}}, metav1.CreateOptions{}); err != nil {
		t.Errorf("an object the policy allows: %v", err)
	}
	waitFor(t, 30*time.Second, "a missing parameter to deny", func() (bool, error) {
		_, err := c.CoreV1().ConfigMaps(n).Create(ctx, twoKeys("missing"), metav1.CreateOptions{})
		return err != nil && strings.Contains(err.Error(), "no params found for policy binding with `Deny` parameterNotFoundAction"), nil
	})

	// Warn: the request succeeds and the client gets the message as a
	// warning.
	warnings := &warningRecorder{}
	cfg := srv.RESTConfig(t)
	cfg.WarningHandler = warnings
	wc := kubernetes.NewForConfigOrDie(cfg)
	waitFor(t, 30*time.Second, "the policy to warn", func() (bool, error) {
		if _, err := wc.CoreV1().ConfigMaps(n).Create(ctx, twoKeys("warn"), metav1.CreateOptions{}); err != nil {
			return false, err
		}
		return warnings.contains("at most 1 keys"), nil
	})

	// Audit: the request succeeds, and its audit event carries the
	// failure and the policy's audit annotation.
	// (Named: the audit event of a generateName create has no name.)
	var audited *corev1.ConfigMap
	i := 0
	waitFor(t, 30*time.Second, "the policy to audit", func() (bool, error) {
		i++
		cm := twoKeys("audit")
		cm.Name = fmt.Sprintf("audit-%d", i)
		cm, err := c.CoreV1().ConfigMaps(n).Create(ctx, cm, metav1.CreateOptions{})
		if err != nil {
			return false, err
		}
		// The event may be written just after the response is sent.
		var ev *auditv1.Event
		for deadline := time.Now().Add(5 * time.Second); ev == nil; {
			if ev, err = auditEvent(auditLog, "create", cm.Name); err != nil {
				return false, err
			}
			if ev == nil && time.Now().After(deadline) {
				return false, fmt.Errorf("no audit event of the create of %s", cm.Name)
			}
			if ev == nil {
				time.Sleep(50 * time.Millisecond)
			}
		}
		failure := ev.Annotations["validation.policy.admission.k8s.io/validation_failure"]
		if failure == "" {
			return false, nil // the binding was not yet seen
		}
		audited = cm
		want := `[{"message":"at most 1 keys","policy":"max-keys.skiff.test","binding":"audit","expressionIndex":0,"validationActions":["Audit"]}]`
		if failure != want || ev.Annotations["max-keys.skiff.test/keys"] != "2" {
			return false, fmt.Errorf("audit annotations %v, want the failure %s and keys 2", ev.Annotations, want)
		}
		return true, nil
	})
	if _, err := c.CoreV1().ConfigMaps(n).Get(ctx, audited.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("the audited object was not stored: %v", err)
	}
}

// auditEvent finds the ResponseComplete audit event of verb on the
// ConfigMap name in the JSON audit log at path, or nil.
func auditEvent(path, verb, name string) (*auditv1.Event, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		var ev auditv1.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			return nil, fmt.Errorf("audit log line %q: %w", line, err)
		}
		if ev.Verb == verb && ev.ObjectRef != nil && ev.ObjectRef.Name == name && ev.Stage == auditv1.StageResponseComplete {
			return &ev, nil
		}
	}
	return nil, nil
}

type warningRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningRecorder) HandleWarningHeader(_ int, _ string, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
}

func (w *warningRecorder) contains(s string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range w.msgs {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// TestMutatingAdmissionPolicy checks a CEL mutating policy with a
// parameter: an apply configuration and a JSON patch change the object
// before it is stored, a policy whose expression does not compile is
// refused, and objects the binding does not select are left alone.
func TestMutatingAdmissionPolicy(t *testing.T) {
	srv := testserver.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	n := ns(t, c)
	if _, err := c.CoreV1().ConfigMaps(n).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "team"}, Data: map[string]string{"name": "platform"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	policy := &admissionregistrationv1.MutatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "team-label.skiff.test"},
		Spec: admissionregistrationv1.MutatingAdmissionPolicySpec{
			ParamKind: &admissionregistrationv1.ParamKind{APIVersion: "v1", Kind: "ConfigMap"},
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}},
				},
			}}},
			Variables: []admissionregistrationv1.Variable{{Name: "team", Expression: "params.data.name"}},
			Mutations: []admissionregistrationv1.Mutation{
				{PatchType: admissionregistrationv1.PatchTypeApplyConfiguration, ApplyConfiguration: &admissionregistrationv1.ApplyConfiguration{
					Expression: `Object{metadata: Object.metadata{labels: {"team": variables.team}}}`}},
				{PatchType: admissionregistrationv1.PatchTypeJSONPatch, JSONPatch: &admissionregistrationv1.JSONPatch{
					Expression: `[JSONPatch{op: "add", path: "/metadata/annotations", value: {"mutated-by": "policy"}}]`}},
			},
			ReinvocationPolicy: admissionregistrationv1.NeverReinvocationPolicy,
		},
	}
	got, err := c.AdmissionregistrationV1().MutatingAdmissionPolicies().Create(ctx, policy, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *got.Spec.FailurePolicy != admissionregistrationv1.Fail || *got.Spec.MatchConstraints.MatchPolicy != admissionregistrationv1.Equivalent {
		t.Errorf("policy defaults: %+v", got.Spec)
	}
	bad := policy.DeepCopy()
	bad.Name = "broken.skiff.test"
	bad.Spec.Mutations[0].ApplyConfiguration.Expression = "Object{"
	if _, err := c.AdmissionregistrationV1().MutatingAdmissionPolicies().Create(ctx, bad, metav1.CreateOptions{}); !apierrors.IsInvalid(err) ||
		!strings.Contains(err.Error(), "spec.mutations[0].applyConfiguration.expression") {
		t.Errorf("a policy that does not compile: %v, want 422", err)
	}
	_, err = c.AdmissionregistrationV1().MutatingAdmissionPolicyBindings().Create(ctx, &admissionregistrationv1.MutatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "team-label"},
		Spec: admissionregistrationv1.MutatingAdmissionPolicyBindingSpec{
			PolicyName: policy.Name,
			ParamRef:   &admissionregistrationv1.ParamRef{Name: "team", Namespace: n, ParameterNotFoundAction: ptr.To(admissionregistrationv1.DenyAction)},
			MatchResources: &admissionregistrationv1.MatchResources{
				ObjectSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"mutate": "yes"}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	waitFor(t, 30*time.Second, "the policy to mutate", func() (bool, error) {
		cm, err := c.CoreV1().ConfigMaps(n).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "m-", Labels: map[string]string{"mutate": "yes"}},
			Data: map[string]string{"a": "1"}}, metav1.CreateOptions{})
		if err != nil {
			return false, err
		}
		if cm.Labels["team"] == "" {
			return false, nil // the binding was not yet seen
		}
		if cm.Labels["team"] != "platform" || cm.Labels["mutate"] != "yes" || cm.Annotations["mutated-by"] != "policy" || cm.Data["a"] != "1" {
			return false, fmt.Errorf("mutated object: labels %v, annotations %v, data %v", cm.Labels, cm.Annotations, cm.Data)
		}
		return true, nil
	})
	plain, err := c.CoreV1().ConfigMaps(n).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "plain"}}, metav1.CreateOptions{})
	if err != nil || plain.Labels["team"] != "" || plain.Annotations["mutated-by"] != "" {
		t.Errorf("an object the binding does not select: %v, %+v", err, plain.ObjectMeta)
	}
	// A dry run is mutated too, and stores nothing.
	dry, err := c.CoreV1().ConfigMaps(n).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dry", Labels: map[string]string{"mutate": "yes"}}},
		metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil || dry.Labels["team"] != "platform" {
		t.Errorf("dry run: %v, labels %v", err, dry)
	}
	if _, err := c.CoreV1().ConfigMaps(n).Get(ctx, "dry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the dry run stored the object: %v", err)
	}
}
