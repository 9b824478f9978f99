package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skiffhq/skiff/test/images"
	"github.com/skiffhq/skiff/test/testserver"
)

// webhookImage is the test image with the webhook server of
// test/images/webhook in it.
const webhookImage = "skiff.dev/webhook:test"

// webhookManifest runs the webhook server in a Deployment behind the
// Service hooks, and registers it, through the Service, for ConfigMaps
// labelled webhook-test=yes. %[1]s is the image, %[2]s the CA bundle.
const webhookManifest = `apiVersion: apps/v1
kind: Deployment
metadata: {name: hooks}
spec:
  replicas: 1
  selector: {matchLabels: {app: hooks}}
  template:
    metadata: {labels: {app: hooks}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: webhook
        image: %[1]s
        command: [/bin/skiff-webhook]
        ports: [{name: https, containerPort: 8443}]
        readinessProbe: {tcpSocket: {port: https}, periodSeconds: 1}
        volumeMounts: [{name: tls, mountPath: /tls, readOnly: true}]
      volumes:
      - {name: tls, secret: {secretName: hooks-tls}}
---
apiVersion: v1
kind: Service
metadata: {name: hooks}
spec:
  selector: {app: hooks}
  ports: [{port: 443, targetPort: https}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: e2e-hooks}
webhooks:
- name: mutate.skiff.test
  clientConfig:
    service: {name: hooks, namespace: default, path: /mutate}
    caBundle: %[2]s
  rules: [{operations: [CREATE, UPDATE], apiGroups: [""], apiVersions: [v1], resources: [configmaps]}]
  objectSelector: {matchLabels: {webhook-test: "yes"}}
  sideEffects: None
  admissionReviewVersions: [v1]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: e2e-hooks}
webhooks:
- name: deny.skiff.test
  clientConfig:
    service: {name: hooks, namespace: default, path: /validate}
    caBundle: %[2]s
  rules: [{operations: [CREATE, UPDATE], apiGroups: [""], apiVersions: [v1], resources: [configmaps]}]
  objectSelector: {matchLabels: {webhook-test: "yes"}}
  sideEffects: None
  admissionReviewVersions: [v1]
`

// testPodWebhooks deploys an admission webhook as a user would: a static
// server built into an image, imported into containerd, run by a
// Deployment with its certificate from a Secret, and registered through
// a Service reference. kubectl then sees its patch and its denial.
func testPodWebhooks(t testing.TB, srv *testserver.Server) {
	t.Helper()
	k := mustKubectl(t, srv)
	kt := func(args ...string) string { t.Helper(); return strings.TrimSpace(k(args...)) }
	dir := t.TempDir()

	// The image: the webhook server, built static, in the test image.
	server := filepath.Join(dir, "skiff-webhook")
	build := exec.Command("go", "build", "-trimpath", "-o", server, "github.com/skiffhq/skiff/test/images/webhook")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the webhook server: %v\n%s", err, out)
	}
	bin, err := os.ReadFile(server)
	if err != nil {
		t.Fatal(err)
	}
	var tarball bytes.Buffer
	if err := images.BuildWith(&tarball, "/bin/busybox", webhookImage, []images.File{{Path: "bin/skiff-webhook", Mode: 0o755, Data: bin}}); err != nil {
		t.Fatal(err)
	}
	tarPath := filepath.Join(dir, "webhook-image.tar")
	if err := os.WriteFile(tarPath, tarball.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	skiff, err := testserver.Binary()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(skiff, "images", "import", "--data-dir", srv.DataDir, tarPath).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "imported "+webhookImage) {
		t.Fatalf("skiff images import: %v\n%s", err, out)
	}

	// The serving certificate for hooks.default.svc, signed by a CA of
	// the test's own, as cert-manager or an operator's chart would make.
	caPEM, certFile, keyFile := webhookCerts(t, dir, "hooks.default.svc")
	kt("create", "secret", "tls", "hooks-tls", "--cert", certFile, "--key", keyFile)
	t.Cleanup(func() {
		// Configurations first, so that nothing else goes to a webhook
		// that is going away.
		_, _ = srv.Kubectl("delete", "mutatingwebhookconfiguration/e2e-hooks", "validatingwebhookconfiguration/e2e-hooks", "--ignore-not-found")
		_, _ = srv.Kubectl("delete", "deployment/hooks", "service/hooks", "secret/hooks-tls", "--ignore-not-found")
		_, _ = srv.Kubectl("delete", "configmaps", "-l", "webhook-test")
	})
	manifest := fmt.Sprintf(webhookManifest, webhookImage, base64.StdEncoding.EncodeToString(caPEM))
	if out, err := srv.KubectlStdin(manifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	kt("rollout", "status", "deployment/hooks", "--timeout=90s")

	// The mutating webhook labels a ConfigMap applied with kubectl.
	cm := func(name, data string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, labels: {webhook-test: \"yes\"}}\ndata: {%s}\n", name, data)
	}
	eventually(t, 30*time.Second, func() error {
		if out, err := srv.KubectlStdin(cm("hooked", "a: b"), "apply", "-f", "-"); err != nil {
			return fmt.Errorf("apply: %v: %s", err, out)
		}
		if got := kt("get", "configmap", "hooked", "-o", `jsonpath={.metadata.labels.webhook\.skiff\.test/mutated}`); got != "true" {
			_, _ = srv.Kubectl("delete", "configmap", "hooked")
			return fmt.Errorf("label webhook.skiff.test/mutated = %q, want true", got)
		}
		return nil
	})
	// The validating webhook's denial reaches kubectl with its message,
	// and nothing is stored.
	// (Retried: the validating plugin sees its configuration through an
	// informer of its own.)
	want := `admission webhook "deny.skiff.test" denied the request: the key forbidden is not allowed`
	eventually(t, 30*time.Second, func() error {
		out, err := srv.KubectlStdin(cm("refused", "forbidden: x"), "apply", "-f", "-")
		if err == nil {
			_, _ = srv.Kubectl("delete", "configmap", "refused")
			return fmt.Errorf("apply of a forbidden key succeeded: %s", out)
		}
		if !strings.Contains(out, want) {
			return fmt.Errorf("apply of a forbidden key: %v\n%s\nwant the message %q", err, out, want)
		}
		return nil
	})
	if out, err := srv.Kubectl("get", "configmap", "refused"); err == nil {
		t.Errorf("the refused ConfigMap was stored: %s", out)
	}
	// The webhook's own log shows the calls came to the pod.
	if logs := kt("logs", "deployment/hooks"); !strings.Contains(logs, "/validate CREATE default/refused: allowed=false") {
		t.Errorf("the webhook pod's log has no call for refused:\n%s", logs)
	}
}

// webhookCerts writes a CA and a serving certificate for host into dir,
// returning the CA's PEM and the certificate's and key's files.
func webhookCerts(t testing.TB, dir, host string) (caPEM []byte, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e webhook CA"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), certFile, keyFile
}
