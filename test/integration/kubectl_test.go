package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/skiffhq/skiff/test/testserver"
)

type kubectl struct {
	t    *testing.T
	bin  string
	pre  []string
	env  []string
	kcfg string
}

func (k kubectl) run(stdin string, args ...string) (string, error) {
	k.t.Helper()
	cmd := exec.Command(k.bin, append(append(append([]string{}, k.pre...), "--kubeconfig", k.kcfg), args...)...)
	cmd.Env = append(os.Environ(), k.env...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// ok runs kubectl and fails the test on error; it returns the output.
func (k kubectl) ok(args ...string) string {
	k.t.Helper()
	out, err := k.run("", args...)
	if err != nil {
		k.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (k kubectl) okIn(stdin string, args ...string) string {
	k.t.Helper()
	out, err := k.run(stdin, args...)
	if err != nil {
		k.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func header(out string) []string {
	lines := strings.Split(out, "\n")
	for len(lines) > 1 && strings.HasPrefix(lines[0], "Warning:") {
		lines = lines[1:]
	}
	line := lines[0]
	return regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
}

func writeTLSPair(t *testing.T, dir string) (string, string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "example.com"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	crt, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	_ = os.WriteFile(crt, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return crt, keyFile
}

// TestKubectl drives a server with the kubectl on PATH (1.32) and the
// bundled `skiff kubectl`, as a user would.
func TestKubectl(t *testing.T) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Fatalf("kubectl is not on PATH: %v", err)
	}
	srv := testserver.Start(t)
	bin, err := testserver.Binary()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []kubectl{
		// Each kubectl gets its own discovery cache: the shared one in
		// $HOME is keyed by host:port, which another test's server may
		// have used before with other resources.
		{t: t, bin: "kubectl", pre: []string{"--cache-dir", t.TempDir()}, kcfg: srv.Kubeconfig},
		{t: t, bin: bin, pre: []string{"kubectl", "--cache-dir", t.TempDir()}, kcfg: srv.Kubeconfig},
	} {
		name := "path-kubectl"
		if k.bin == bin {
			name = "skiff-kubectl"
		}
		t.Run(name, func(t *testing.T) {
			k.t = t
			testKubectl(t, k, name)
		})
	}
}

func testKubectl(t *testing.T, k kubectl, ns string) {
	k.ok("create", "namespace", ns)
	n := []string{"-n", ns}
	k.ok(append([]string{"create", "configmap", "cm1", "--from-literal=a=1"}, n...)...)
	k.ok(append([]string{"create", "secret", "generic", "s1", "--from-literal=password=x"}, n...)...)
	crt, key := writeTLSPair(t, t.TempDir())
	k.ok(append([]string{"create", "secret", "tls", "tls1", "--cert", crt, "--key", key}, n...)...)
	k.ok(append([]string{"create", "deployment", "web", "--image=nginx:1.27", "--replicas=2"}, n...)...)
	k.ok("create", "job", "j1", "-n", ns, "--image=busybox", "--", "true")
	k.ok("create", "cronjob", "cj1", "-n", ns, "--image=busybox", "--schedule=*/5 * * * *", "--", "true")
	k.ok(append([]string{"create", "service", "clusterip", "svc1", "--tcp=80:8080"}, n...)...)
	k.ok(append([]string{"create", "service", "nodeport", "svc2", "--tcp=80:8080"}, n...)...)
	k.ok(append([]string{"create", "serviceaccount", "sa1"}, n...)...)
	k.ok(append([]string{"create", "role", "r1", "--verb=get", "--resource=pods"}, n...)...)
	k.ok(append([]string{"create", "rolebinding", "rb1", "--role=r1", "--user=jane"}, n...)...)
	k.ok(append([]string{"run", "p1", "--image=busybox:1.36", "--restart=Never"}, n...)...)
	k.okIn(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: `+ns+`}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: `+ns+`}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 5
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: q, namespace: `+ns+`}
spec: {hard: {pods: "10"}}
`, "apply", "-f", "-")
	k.okIn(`apiVersion: v1
kind: PodTemplate
metadata: {name: pt1, namespace: `+ns+`}
template:
  metadata: {labels: {app: pt}}
  spec: {containers: [{name: c, image: busybox}]}
`, "apply", "-f", "-")

	t.Run("get columns", func(t *testing.T) {
		for res, want := range map[string]string{
			"pods":            "NAME|READY|STATUS|RESTARTS|AGE",
			"services":        "NAME|TYPE|CLUSTER-IP|EXTERNAL-IP|PORT(S)|AGE",
			"deployments":     "NAME|READY|UP-TO-DATE|AVAILABLE|AGE",
			"replicasets":     "NAME|DESIRED|CURRENT|READY|AGE",
			"statefulsets":    "NAME|READY|AGE",
			"daemonsets":      "NAME|DESIRED|CURRENT|READY|UP-TO-DATE|AVAILABLE|NODE SELECTOR|AGE",
			"jobs":            "NAME|STATUS|COMPLETIONS|DURATION|AGE",
			"cronjobs":        "NAME|SCHEDULE|TIMEZONE|SUSPEND|ACTIVE|LAST SCHEDULE|AGE",
			"configmaps":      "NAME|DATA|AGE",
			"secrets":         "NAME|TYPE|DATA|AGE",
			"serviceaccounts": "NAME|SECRETS|AGE",
			"roles":           "NAME|CREATED AT",
			"rolebindings":    "NAME|ROLE|AGE",
			"endpoints":       "NAME|ENDPOINTS|AGE",
			"leases":          "NAME|HOLDER|AGE",
			"endpointslices":  "NAME|ADDRESSTYPE|PORTS|ENDPOINTS|AGE",
			"pdb":             "NAME|MIN AVAILABLE|MAX UNAVAILABLE|ALLOWED DISRUPTIONS|AGE",
			"ingresses":       "NAME|CLASS|HOSTS|ADDRESS|PORTS|AGE",
			"networkpolicies": "NAME|POD-SELECTOR|AGE",
			"events":          "LAST SEEN|TYPE|REASON|OBJECT|MESSAGE",
			"podtemplates":    "NAME|CONTAINERS|IMAGES|POD LABELS",
			"pvc":             "NAME|STATUS|VOLUME|CAPACITY|ACCESS MODES|STORAGECLASS|VOLUMEATTRIBUTESCLASS|AGE",
			"hpa":             "NAME|REFERENCE|TARGETS|MINPODS|MAXPODS|REPLICAS|AGE",
			"quota":           "NAME|AGE|REQUEST|LIMIT",
		} {
			out, err := k.run("", append([]string{"get", res}, n...)...)
			if err != nil {
				t.Errorf("get %s: %v\n%s", res, err, out)
				continue
			}
			if strings.HasPrefix(strings.Join(header(out), " "), "No resources found") {
				// Empty lists print no header.
				continue
			}
			if got := strings.Join(header(out), "|"); got != want {
				t.Errorf("get %s header = %q, want %q", res, got, want)
			}
		}
		for res, want := range map[string]string{
			"namespaces":      "NAME|STATUS|AGE",
			"priorityclasses": "NAME|VALUE|GLOBAL-DEFAULT|AGE|PREEMPTIONPOLICY",
			"clusterroles":    "NAME|CREATED AT",
			"ingressclasses":  "NAME|CONTROLLER|PARAMETERS|AGE",
		} {
			out := k.ok("get", res)
			if strings.HasPrefix(out, "No resources found") {
				continue
			}
			if got := strings.Join(header(out), "|"); got != want {
				t.Errorf("get %s header = %q, want %q", res, got, want)
			}
		}
		wide := k.ok(append([]string{"get", "pods", "-o", "wide"}, n...)...)
		if got := strings.Join(header(wide), "|"); got != "NAME|READY|STATUS|RESTARTS|AGE|IP|NODE|NOMINATED NODE|READINESS GATES" {
			t.Errorf("get pods -o wide header = %q", got)
		}
		if out := k.ok(append([]string{"get", "deploy", "web", "-o", "jsonpath={.spec.replicas}/{.spec.strategy.rollingUpdate.maxSurge}"}, n...)...); out != "2/25%" {
			t.Errorf("jsonpath = %q", out)
		}
		if out := k.ok("get", "cm", "-A", "-l", "missing-label"); !strings.Contains(out, "No resources found") {
			t.Errorf("label selector matched: %s", out)
		}
		if out := k.ok("get", "all", "-n", ns); !strings.Contains(out, "deployment.apps/web") || !strings.Contains(out, "pod/p1") || !strings.Contains(out, "service/svc1") {
			t.Errorf("get all:\n%s", out)
		}
		if out := k.ok(append([]string{"get", "po,deploy,svc"}, n...)...); !strings.Contains(out, "pod/p1") {
			t.Errorf("get by short names:\n%s", out)
		}
	})

	t.Run("apply", func(t *testing.T) {
		manifest := `apiVersion: v1
kind: ConfigMap
metadata:
  name: applied
  namespace: ` + ns + `
data:
  a: "1"
`
		if out := k.okIn(manifest, "apply", "-f", "-"); !strings.Contains(out, "configmap/applied created") {
			t.Errorf("first apply: %s", out)
		}
		if out := k.okIn(manifest, "apply", "-f", "-"); !strings.Contains(out, "configmap/applied unchanged") {
			t.Errorf("second apply: %s", out)
		}
		changed := strings.Replace(manifest, `a: "1"`, `a: "2"`, 1)
		out, err := k.run(changed, "diff", "-f", "-")
		if err == nil || !strings.Contains(out, `+  a: "2"`) {
			t.Errorf("diff of a change: err %v\n%s", err, out)
		}
		if out, err := k.run(manifest, "diff", "-f", "-"); err != nil || out != "" {
			t.Errorf("diff without change: err %v\n%s", err, out)
		}
		if out := k.okIn(changed, "apply", "--server-side", "--dry-run=server", "-f", "-"); !strings.Contains(out, "serverside-applied (server dry run)") {
			t.Errorf("server-side dry run: %s", out)
		}
		if got := k.ok("get", "cm", "applied", "-n", ns, "-o", "jsonpath={.data.a}"); got != "1" {
			t.Errorf("dry run changed the object: a=%s", got)
		}
		out, err = k.run(changed, "apply", "--server-side", "--field-manager=other", "-f", "-")
		if err == nil || !strings.Contains(out, "conflict") {
			t.Errorf("server-side apply by another manager: err %v\n%s", err, out)
		}
		k.okIn(changed, "apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", "-")
		if got := k.ok("get", "cm", "applied", "-n", ns, "-o", "jsonpath={.data.a}"); got != "2" {
			t.Errorf("after forced apply a=%s", got)
		}
	})

	t.Run("edit verbs", func(t *testing.T) {
		k.ok(append([]string{"label", "cm", "cm1", "team=blue"}, n...)...)
		k.ok(append([]string{"annotate", "cm", "cm1", "note=hi"}, n...)...)
		k.ok(append([]string{"patch", "cm", "cm1", "-p", `{"data":{"b":"2"}}`}, n...)...)
		k.ok(append([]string{"patch", "cm", "cm1", "--type=json", "-p", `[{"op":"add","path":"/data/c","value":"3"}]`}, n...)...)
		k.ok(append([]string{"patch", "cm", "cm1", "--type=merge", "-p", `{"data":{"d":"4"}}`}, n...)...)
		if got := k.ok(append([]string{"get", "cm", "cm1", "-o", "jsonpath={.metadata.labels.team} {.metadata.annotations.note} {.data.b}{.data.c}{.data.d}"}, n...)...); got != "blue hi 234" {
			t.Errorf("after label/annotate/patch: %q", got)
		}
		yaml := k.ok(append([]string{"get", "cm", "cm1", "-o", "yaml"}, n...)...)
		k.okIn(strings.Replace(yaml, `a: "1"`, `a: "9"`, 1), "replace", "-f", "-")
		editor := filepath.Join(t.TempDir(), "editor.sh")
		_ = os.WriteFile(editor, []byte("#!/bin/sh\nsed -i 's/a: \"9\"/a: \"10\"/' \"$1\"\n"), 0o755)
		cmd := exec.Command(k.bin, append(append(append([]string{}, k.pre...), "--kubeconfig", k.kcfg, "edit", "cm", "cm1"), n...)...)
		cmd.Env = append(os.Environ(), "KUBE_EDITOR="+editor)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("edit: %v\n%s", err, out)
		}
		if got := k.ok(append([]string{"get", "cm", "cm1", "-o", "jsonpath={.data.a}"}, n...)...); got != "10" {
			t.Errorf("after replace and edit a=%q", got)
		}
		k.ok(append([]string{"scale", "deployment", "web", "--replicas=4"}, n...)...)
		if got := k.ok(append([]string{"get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"}, n...)...); got != "4" {
			t.Errorf("after scale replicas=%s", got)
		}
		k.ok(append([]string{"delete", "cm", "cm1"}, n...)...)
		if out, err := k.run("", append([]string{"get", "cm", "cm1"}, n...)...); err == nil || !strings.Contains(out, "NotFound") {
			t.Errorf("after delete: %v %s", err, out)
		}
		k.ok(append([]string{"wait", "--for=delete", "cm/cm1", "--timeout=10s"}, n...)...)
	})

	t.Run("debug", func(t *testing.T) {
		k.ok("debug", "p1", "-n", ns, "--image=busybox:1.36", "--target=p1", "--profile=general", "--", "true")
		if got := k.ok("get", "pod", "p1", "-n", ns, "-o", "jsonpath={.spec.ephemeralContainers[0].targetContainerName}"); got != "p1" {
			t.Errorf("ephemeral container target = %q", got)
		}
		if out, err := k.run("", "debug", "p1", "-n", ns, "--image=busybox:1.36", "--target=nope", "--profile=general"); err == nil || !strings.Contains(out, `targetContainerName: Not found: "nope"`) {
			t.Errorf("debug with an unknown target: %v\n%s", err, out)
		}
	})

	t.Run("describe and explain", func(t *testing.T) {
		for _, obj := range []string{"pod/p1", "deployment/web", "service/svc2", "job/j1", "cronjob/cj1", "secret/s1", "role/r1"} {
			out := k.ok(append([]string{"describe", obj}, n...)...)
			if !strings.Contains(out, "Name:") {
				t.Errorf("describe %s:\n%s", obj, out)
			}
		}
		out := k.ok("describe", "namespace", ns)
		if !strings.Contains(out, "Status:") || !strings.Contains(out, "Active") {
			t.Errorf("describe namespace:\n%s", out)
		}
		out = k.ok("explain", "pods.spec.containers.image")
		if !strings.Contains(out, "FIELD: image <string>") && !strings.Contains(out, "FIELD:    image <string>") {
			t.Errorf("explain:\n%s", out)
		}
		out = k.ok("explain", "customresourcedefinitions.spec.names")
		if !strings.Contains(out, "plural") {
			t.Errorf("explain crd:\n%s", out)
		}
		out = k.ok("explain", "deployment.spec.strategy")
		if !strings.Contains(out, "rollingUpdate") {
			t.Errorf("explain deployment.spec.strategy:\n%s", out)
		}
	})

	t.Run("discovery and auth", func(t *testing.T) {
		out := k.ok("api-resources")
		for _, want := range []string{"deployments", "cronjobs", "customresourcedefinitions", "selfsubjectaccessreviews", "poddisruptionbudgets"} {
			if !strings.Contains(out, want) {
				t.Errorf("api-resources lacks %s", want)
			}
		}
		out = k.ok("api-versions")
		for _, want := range []string{"apps/v1", "batch/v1", "v1", "apiextensions.k8s.io/v1", "rbac.authorization.k8s.io/v1"} {
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).MatchString(out) {
				t.Errorf("api-versions lacks %s:\n%s", want, out)
			}
		}
		out = k.ok("version")
		if !strings.Contains(out, "Server Version: v1.37") {
			t.Errorf("version:\n%s", out)
		}
		if out := k.ok("auth", "can-i", "create", "pods"); strings.TrimSpace(out) != "yes" {
			t.Errorf("admin can-i create pods: %q", out)
		}
		if out, _ := k.run("", append([]string{"auth", "can-i", "get", "pods", "--as=jane"}, n...)...); strings.TrimSpace(out) != "yes" {
			t.Errorf("jane can-i get pods in %s: %q", ns, out)
		}
		if out, _ := k.run("", append([]string{"auth", "can-i", "delete", "pods", "--as=jane"}, n...)...); strings.TrimSpace(out) != "no" {
			t.Errorf("jane can-i delete pods: %q", out)
		}
		if out := k.ok("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); out != "admin" {
			t.Errorf("whoami = %q", out)
		}
		if out, err := k.run("", "get", "pods", "-n", ns, "--as=joe"); err == nil || !strings.Contains(out, `User "joe" cannot list resource "pods"`) {
			t.Errorf("joe listing pods: %v\n%s", err, out)
		}
	})

	t.Run("custom resources", func(t *testing.T) {
		group := ns + ".example.com"
		crd := `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.` + group + `
spec:
  group: ` + group + `
  names: {kind: Gadget, listKind: GadgetList, plural: gadgets, singular: gadget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: What the gadget should be.
            properties:
              size: {type: integer, minimum: 1, default: 3, description: How big it is.}
              replicas: {type: integer}
          status:
            type: object
            properties:
              replicas: {type: integer}
`
		k.okIn(crd, "apply", "-f", "-")
		k.ok("wait", "--for=condition=Established", "crd/gadgets."+group, "--timeout=30s")
		gadget := `apiVersion: ` + group + `/v1
kind: Gadget
metadata: {name: g1, namespace: ` + ns + `}
spec: {replicas: 1}
`
		waitFor(t, 30*time.Second, "the gadget to be created", func() (bool, error) {
			_, err := k.run(gadget, "apply", "-f", "-")
			return err == nil, nil
		})
		if out := k.okIn(gadget, "apply", "-f", "-"); !strings.Contains(out, "unchanged") {
			t.Errorf("second apply of a custom resource: %s", out)
		}
		res := "gadgets." + group
		out := k.ok("get", res, "-n", ns)
		if got := strings.Join(header(out), "|"); got != "NAME|SIZE|AGE" || !strings.Contains(out, "g1") {
			t.Errorf("printer columns:\n%s", out)
		}
		if got := k.ok("get", res, "g1", "-n", ns, "-o", "jsonpath={.spec.size}"); got != "3" {
			t.Errorf("schema default: size=%q", got)
		}
		k.ok("scale", res, "g1", "-n", ns, "--replicas=4")
		if got := k.ok("get", res, "g1", "-n", ns, "-o", "jsonpath={.spec.replicas}"); got != "4" {
			t.Errorf("after scale: replicas=%q", got)
		}
		bad := strings.Replace(gadget, "g1", "g2", 1)
		bad = strings.Replace(bad, "replicas: 1", "size: 0", 1)
		if out, err := k.run(bad, "apply", "-f", "-"); err == nil || !strings.Contains(out, "spec.size: Invalid value: 0") {
			t.Errorf("invalid custom resource: %v\n%s", err, out)
		}
		waitFor(t, 30*time.Second, "explain to know the CRD", func() (bool, error) {
			out, err := k.run("", "explain", "gadgets.spec.size", "--api-version="+group+"/v1")
			return err == nil && strings.Contains(out, "How big it is."), nil
		})
		out = k.ok("get", "--raw", "/apis")
		if !strings.Contains(out, `"name":"`+group+`"`) {
			t.Errorf("/apis lacks %s", group)
		}
		out = k.ok("get", "--raw", "/openapi/v3")
		if !strings.Contains(out, "apis/"+group+"/v1") {
			t.Errorf("/openapi/v3 lacks %s", group)
		}
		if out := k.ok("get", "all", "-n", ns, "-o", "name"); strings.Contains(out, "gadget") {
			t.Errorf("gadgets are not in category all but show up:\n%s", out)
		}
	})

	t.Run("output formats", func(t *testing.T) {
		out := k.ok(append([]string{"get", "deploy", "web", "-o", "json"}, n...)...)
		if !strings.Contains(out, `"kind": "Deployment"`) || !strings.Contains(out, `"revisionHistoryLimit": 10`) {
			t.Errorf("-o json:\n%s", out)
		}
		out = k.ok(append([]string{"get", "deploy", "web", "-o", "yaml"}, n...)...)
		if !strings.Contains(out, "progressDeadlineSeconds: 600") {
			t.Errorf("-o yaml:\n%s", out)
		}
		k.ok(append([]string{"wait", "--for=jsonpath={.spec.replicas}=4", "deploy/web", "--timeout=10s"}, n...)...)
	})

	t.Run("watch", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, k.bin, append(append(append([]string{}, k.pre...), "--kubeconfig", k.kcfg, "get", "cm", "-w", "--output-watch-events"), n...)...)
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		k.ok(append([]string{"create", "cm", "watched"}, n...)...)
		buf := make([]byte, 0, 4096)
		tmp := make([]byte, 1024)
		for !strings.Contains(string(buf), "watched") {
			nr, err := stdout.Read(tmp)
			if err != nil {
				t.Fatalf("reading kubectl get -w: %v (got %q)", err, buf)
			}
			buf = append(buf, tmp[:nr]...)
		}
		if !strings.Contains(string(buf), "ADDED") {
			t.Errorf("watch output: %q", buf)
		}
	})
}
