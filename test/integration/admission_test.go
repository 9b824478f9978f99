package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/test/testserver"
)

// TestDefaultAdmission checks the admission plugins of kube-apiserver's
// default chain that skiff runs.
func TestDefaultAdmission(t *testing.T) {
	srv := testserver.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	n := ns(t, c)

	t.Run("tolerations and priority", func(t *testing.T) {
		pod, err := c.CoreV1().Pods(n).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: podSpec("busybox")}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if pod.Spec.Priority == nil || *pod.Spec.Priority != 0 || pod.Spec.PreemptionPolicy == nil || *pod.Spec.PreemptionPolicy != corev1.PreemptLowerPriority {
			t.Errorf("priority %v preemption %v", pod.Spec.Priority, pod.Spec.PreemptionPolicy)
		}
		keys := map[string]int64{}
		for _, tol := range pod.Spec.Tolerations {
			if tol.TolerationSeconds != nil {
				keys[tol.Key] = *tol.TolerationSeconds
			}
		}
		if keys[corev1.TaintNodeNotReady] != 300 || keys[corev1.TaintNodeUnreachable] != 300 {
			t.Errorf("tolerations %v", pod.Spec.Tolerations)
		}
		spec := podSpec("busybox")
		spec.PriorityClassName = "missing"
		_, err = c.CoreV1().Pods(n).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "q"}, Spec: spec}, metav1.CreateOptions{})
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "no PriorityClass with name missing was found") {
			t.Errorf("unknown priority class: %v", err)
		}
		_, err = c.SchedulingV1().PriorityClasses().Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000, GlobalDefault: true}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "the default priority class to apply", func() (bool, error) {
			p, err := c.CoreV1().Pods(n).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "d-"}, Spec: podSpec("busybox")}, metav1.CreateOptions{})
			return err == nil && p.Spec.PriorityClassName == "high" && *p.Spec.Priority == 1000, nil
		})
	})

	t.Run("default classes", func(t *testing.T) {
		_, err := c.StorageV1().StorageClasses().Create(ctx, &storagev1.StorageClass{
			ObjectMeta:  metav1.ObjectMeta{Name: "local", Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
			Provisioner: "skiff.dev/local"}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "claims to get the default storage class", func() (bool, error) {
			pvc, err := c.CoreV1().PersistentVolumeClaims(n).Create(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{GenerateName: "c-"},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}, metav1.CreateOptions{})
			return err == nil && pvc.Spec.StorageClassName != nil && *pvc.Spec.StorageClassName == "local", nil
		})
		_, err = c.NetworkingV1().IngressClasses().Create(ctx, &networkingv1.IngressClass{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Annotations: map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}},
			Spec:       networkingv1.IngressClassSpec{Controller: "skiff.dev/ingress"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "ingresses to get the default class", func() (bool, error) {
			ing, err := c.NetworkingV1().Ingresses(n).Create(ctx, &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{GenerateName: "i-"},
				Spec: networkingv1.IngressSpec{DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "s", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}, metav1.CreateOptions{})
			return err == nil && ing.Spec.IngressClassName != nil && *ing.Spec.IngressClassName == "web", nil
		})
	})

	t.Run("service accounts", func(t *testing.T) {
		// The default account (made by the controller) and its API access
		// volume in every container.
		var pod *corev1.Pod
		waitFor(t, 30*time.Second, "a pod with the default service account", func() (bool, error) {
			var err error
			spec := podSpec("busybox")
			spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox"}}
			pod, err = c.CoreV1().Pods(n).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "sa-"}, Spec: spec}, metav1.CreateOptions{})
			return err == nil, nil
		})
		if pod.Spec.ServiceAccountName != "default" || len(pod.Spec.Volumes) != 1 || !strings.HasPrefix(pod.Spec.Volumes[0].Name, "kube-api-access-") {
			t.Fatalf("service account %q, volumes %+v", pod.Spec.ServiceAccountName, pod.Spec.Volumes)
		}
		proj := pod.Spec.Volumes[0].Projected
		if proj == nil || len(proj.Sources) != 3 || proj.Sources[0].ServiceAccountToken == nil || *proj.Sources[0].ServiceAccountToken.ExpirationSeconds != 3607 ||
			proj.Sources[1].ConfigMap == nil || proj.Sources[1].ConfigMap.Name != "kube-root-ca.crt" || proj.Sources[2].DownwardAPI == nil {
			t.Fatalf("kube-api-access volume %+v", pod.Spec.Volumes[0])
		}
		for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
			m := cs[0].VolumeMounts
			if len(m) != 1 || m[0].MountPath != "/var/run/secrets/kubernetes.io/serviceaccount" || !m[0].ReadOnly || m[0].Name != pod.Spec.Volumes[0].Name {
				t.Fatalf("mounts of %s: %+v", cs[0].Name, m)
			}
		}
		// automountServiceAccountToken: false on the account turns it off.
		_, err := c.CoreV1().ServiceAccounts(n).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "quiet"}, AutomountServiceAccountToken: new(false),
			ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		spec := podSpec("busybox")
		spec.ServiceAccountName = "quiet"
		pod, err = c.CoreV1().Pods(n).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "quiet-"}, Spec: spec}, metav1.CreateOptions{})
		if err != nil || len(pod.Spec.Volumes) != 0 || len(pod.Spec.ImagePullSecrets) != 1 || pod.Spec.ImagePullSecrets[0].Name != "regcred" {
			t.Fatalf("pod of an account without automount: %v %+v", err, pod)
		}
		// An account that does not exist: 403, as upstream.
		spec.ServiceAccountName = "nobody"
		_, err = c.CoreV1().Pods(n).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "x-"}, Spec: spec}, metav1.CreateOptions{})
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "error looking up service account "+n+"/nobody: serviceaccount \"nobody\" not found") {
			t.Fatalf("missing service account: %v", err)
		}
	})

	t.Run("new nodes are not ready", func(t *testing.T) {
		node, err := c.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "fresh-node"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(node.Spec.Taints) != 1 || node.Spec.Taints[0].Key != corev1.TaintNodeNotReady || node.Spec.Taints[0].Effect != corev1.TaintEffectNoSchedule {
			t.Errorf("taints %v", node.Spec.Taints)
		}
	})
}

// TestLimitRanger checks defaults and bounds from a namespace's LimitRange.
func TestLimitRanger(t *testing.T) {
	srv := testserver.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	n := ns(t, c)
	_, err := c.CoreV1().LimitRanges(n).Create(ctx, &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "lr"},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: corev1.LimitTypeContainer,
			Max:  corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
			Min:  corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m")},
		}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the limit range to apply", func() (bool, error) {
		pod, err := c.CoreV1().Pods(n).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "p-"}, Spec: podSpec("busybox")}, metav1.CreateOptions{})
		if err != nil {
			return false, nil
		}
		r := pod.Spec.Containers[0].Resources
		return r.Limits.Cpu().String() == "1" && r.Requests.Cpu().String() == "1" &&
			pod.Annotations["kubernetes.io/limit-ranger"] == "LimitRanger plugin set: cpu request for container c; cpu limit for container c", nil
	})
	spec := podSpec("busybox")
	spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}
	_, err = c.CoreV1().Pods(n).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "big"}, Spec: spec}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "maximum cpu usage per Container is 1, but limit is 2") {
		t.Errorf("a pod over the maximum: %v", err)
	}
}

// TestPodSecurity checks that namespace labels enforce the Pod Security
// Standards, with upstream's messages.
func TestPodSecurity(t *testing.T) {
	srv := testserver.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "secure",
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the restricted level to be enforced", func() (bool, error) {
		_, err := c.CoreV1().Pods("secure").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "bad-"}, Spec: podSpec("busybox")}, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return apierrors.IsForbidden(err) && strings.Contains(err.Error(), `violates PodSecurity "restricted:latest"`), nil
	})
	yes, no := true, false
	uid := int64(1000)
	spec := podSpec("busybox")
	spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: &uid, SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	spec.Containers[0].SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: &no, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
	if _, err := c.CoreV1().Pods("secure").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "good"}, Spec: spec}, metav1.CreateOptions{}); err != nil {
		t.Errorf("a restricted-compliant pod: %v", err)
	}
	if _, err := c.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "anything"}, Spec: podSpec("busybox")}, metav1.CreateOptions{}); err != nil {
		t.Errorf("a pod in an unlabelled namespace: %v", err)
	}
}

// TestAdmissionConfigurationFile checks --admission-control-config-file:
// PodSecurity takes its cluster-wide defaults and exemptions from it, as
// kube-apiserver's, and a file that does not parse stops the server with
// the reason.
func TestAdmissionConfigurationFile(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "admission.yaml")
	if err := os.WriteFile(config, []byte(`apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults: {enforce: baseline, enforce-version: latest}
    exemptions: {namespaces: [exempt]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := testserver.Start(t, "--admission-control-config-file", config)
	c := srv.Client(t)
	ctx := context.Background()
	for _, n := range []string{"plain", "exempt"} {
		if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	privileged := func() *corev1.Pod {
		spec := podSpec("busybox")
		spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "root"}, Spec: spec}
	}
	// No namespace label: the file's default level applies.
	waitFor(t, 30*time.Second, "the default baseline level to be enforced", func() (bool, error) {
		_, err := c.CoreV1().Pods("plain").Create(ctx, privileged(), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil {
			return false, fmt.Errorf("a privileged pod was admitted under the baseline default")
		}
		return apierrors.IsForbidden(err) && strings.Contains(err.Error(), `violates PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)`), nil
	})
	if _, err := c.CoreV1().Pods("exempt").Create(ctx, privileged(), metav1.CreateOptions{}); err != nil {
		t.Errorf("a privileged pod in an exempt namespace: %v", err)
	}

	// A configuration that does not parse: the server stops and says so.
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n- name: PodSecurity\n  configuration: {apiVersion: pod-security.admission.config.k8s.io/v1, kind: PodSecurityConfiguration, defaults: {enforce: strictest}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bin, err := testserver.Binary()
	if err != nil {
		t.Fatal(err)
	}
	port, err := testserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "server", "--data-dir", t.TempDir(), "--secure-port", fmt.Sprint(port), "--disable-agent", "--admission-control-config-file", bad)
	out, err := runWithDeadline(t, cmd, 30*time.Second)
	if err == nil || !strings.Contains(out, "pod security configuration: enforce: must be one of privileged, baseline, restricted") {
		t.Errorf("a server with an invalid PodSecurity default: %v\n%s", err, out)
	}
}
