package envtest

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/skiffhq/skiff/test/testserver"
)

var widgetGVK = schema.GroupVersionKind{Group: "example.skiff.dev", Version: "v1", Kind: "Widget"}

var (
	cfg       *rest.Config
	k8sClient client.Client
	testEnv   *envtest.Environment
	cancel    context.CancelFunc
)

func TestEnvtest(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "envtest against skiff")
}

var _ = BeforeSuite(func() {
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))

	bin, err := testserver.Binary()
	Expect(err).NotTo(HaveOccurred())
	assets := GinkgoT().TempDir()
	for _, name := range []string{"kube-apiserver", "etcd", "kubectl"} {
		Expect(os.Symlink(bin, filepath.Join(assets, name))).To(Succeed())
	}
	GinkgoT().Setenv("KUBEBUILDER_ASSETS", assets)

	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("testdata", "crds")},
		ErrorIfCRDPathMissing: true,
		// As a kubebuilder-scaffolded suite: envtest installs the webhook
		// configurations, pointed at the manager's webhook server below.
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			MutatingWebhooks:   []*admissionregistrationv1.MutatingWebhookConfiguration{widgetMutatingWebhook()},
			ValidatingWebhooks: []*admissionregistrationv1.ValidatingWebhookConfiguration{widgetValidatingWebhook()},
		},
	}
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())

	scheme := runtime.NewScheme()
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	hooks := testEnv.WebhookInstallOptions
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		WebhookServer: webhook.NewServer(webhook.Options{Host: hooks.LocalServingHost, Port: hooks.LocalServingPort, CertDir: hooks.LocalServingCertDir})})
	Expect(err).NotTo(HaveOccurred())
	mgr.GetWebhookServer().Register("/mutate-widget", &webhook.Admission{Handler: admission.HandlerFunc(defaultWidgetColor)})
	mgr.GetWebhookServer().Register("/validate-widget", &webhook.Admission{Handler: admission.HandlerFunc(refuseRedWidgets)})
	widget := &unstructured.Unstructured{}
	widget.SetGroupVersionKind(widgetGVK)
	Expect(ctrl.NewControllerManagedBy(mgr).For(widget).Owns(&corev1.ConfigMap{}).Named("widget").
		Complete(&widgetReconciler{Client: mgr.GetClient()})).To(Succeed())

	var ctx context.Context
	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	// As kubebuilder's scaffold: wait for the webhook server to listen.
	dialer := &net.Dialer{Timeout: time.Second}
	addr := net.JoinHostPort(hooks.LocalServingHost, fmt.Sprint(hooks.LocalServingPort))
	Eventually(func() error {
		conn, err := tls.DialWithDialer(dialer, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // a readiness probe
		if err != nil {
			return err
		}
		return conn.Close()
	}).WithTimeout(20 * time.Second).Should(Succeed())
})

func widgetRules() []admissionregistrationv1.RuleWithOperations {
	return []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{widgetGVK.Group}, APIVersions: []string{widgetGVK.Version}, Resources: []string{"widgets"}},
	}}
}

// The configurations as controller-gen writes them for a kubebuilder
// project: a Service reference that envtest rewrites to its local server.
func widgetMutatingWebhook() *admissionregistrationv1.MutatingWebhookConfiguration {
	return &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "mutating-webhook-configuration"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    "mwidget.example.skiff.dev",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Name: "webhook-service", Namespace: "system", Path: ptr.To("/mutate-widget")}},
			Rules:                   widgetRules(),
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
}

func widgetValidatingWebhook() *admissionregistrationv1.ValidatingWebhookConfiguration {
	return &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "validating-webhook-configuration"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    "vwidget.example.skiff.dev",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Name: "webhook-service", Namespace: "system", Path: ptr.To("/validate-widget")}},
			Rules:                   widgetRules(),
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
}

// defaultWidgetColor gives a Widget without a color the color gray.
func defaultWidgetColor(_ context.Context, req admission.Request) admission.Response {
	w := &unstructured.Unstructured{}
	if err := w.UnmarshalJSON(req.Object.Raw); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if color, _, _ := unstructured.NestedString(w.Object, "spec", "color"); color != "" {
		return admission.Allowed("")
	}
	_ = unstructured.SetNestedField(w.Object, "gray", "spec", "color")
	raw, err := w.MarshalJSON()
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	return admission.PatchResponseFromRaw(req.Object.Raw, raw)
}

// refuseRedWidgets denies red Widgets.
func refuseRedWidgets(_ context.Context, req admission.Request) admission.Response {
	w := &unstructured.Unstructured{}
	if err := w.UnmarshalJSON(req.Object.Raw); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if color, _, _ := unstructured.NestedString(w.Object, "spec", "color"); color == "red" {
		return admission.Denied("red widgets are not allowed")
	}
	return admission.Allowed("")
}

var _ = AfterSuite(func() {
	if cancel != nil {
		cancel()
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

// widgetReconciler keeps a ConfigMap per Widget holding its size and
// reports the ConfigMap's name in the Widget's status.
type widgetReconciler struct {
	client.Client
}

func (r *widgetReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	w := &unstructured.Unstructured{}
	w.SetGroupVersionKind(widgetGVK)
	if err := r.Get(ctx, req.NamespacedName, w); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	size, _, _ := unstructured.NestedInt64(w.Object, "spec", "size")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "widget-" + w.GetName(), Namespace: w.GetNamespace()}}
	if _, err := controllerutil.CreateOrUpdate(ctx, r.Client, cm, func() error {
		cm.Data = map[string]string{"size": fmtInt(size)}
		return controllerutil.SetControllerReference(w, cm, r.Scheme())
	}); err != nil {
		return ctrl.Result{}, err
	}
	observed, _, _ := unstructured.NestedInt64(w.Object, "status", "observedSize")
	if observed != size {
		patch := client.MergeFrom(w.DeepCopy())
		_ = unstructured.SetNestedField(w.Object, cm.Name, "status", "configMap")
		_ = unstructured.SetNestedField(w.Object, size, "status", "observedSize")
		if err := r.Status().Patch(ctx, w, patch); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

func fmtInt(i int64) string {
	return fmt.Sprint(i)
}

var _ = Describe("a controller-runtime operator on skiff's envtest control plane", func() {
	ctx := context.Background()

	It("serves namespace default and the CRD installed from a directory", func() {
		ns := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "default"}, ns)).To(Succeed())
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(widgetGVK.GroupVersion().WithKind("WidgetList"))
		Expect(k8sClient.List(ctx, list, client.InNamespace("default"))).To(Succeed())
	})

	It("defaults, validates and reconciles a custom resource and the ConfigMap it owns", func() {
		w := &unstructured.Unstructured{}
		w.SetGroupVersionKind(widgetGVK)
		w.SetName("blue")
		w.SetNamespace("default")
		_ = unstructured.SetNestedField(w.Object, "blue", "spec", "color")
		Expect(k8sClient.Create(ctx, w)).To(Succeed())
		size, _, _ := unstructured.NestedInt64(w.Object, "spec", "size")
		Expect(size).To(Equal(int64(2)), "the CRD schema's default applies")

		cm := &corev1.ConfigMap{}
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "default", Name: "widget-blue"}, cm)).To(Succeed())
			g.Expect(cm.Data).To(HaveKeyWithValue("size", "2"))
			g.Expect(metav1.IsControlledBy(cm, w)).To(BeTrue())
		}).WithTimeout(20 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())

		Eventually(func(g Gomega) {
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(widgetGVK)
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(w), got)).To(Succeed())
			name, _, _ := unstructured.NestedString(got.Object, "status", "configMap")
			g.Expect(name).To(Equal("widget-blue"))
		}).WithTimeout(20 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())

		// A change to the custom resource reaches the ConfigMap.
		Eventually(func() error {
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(widgetGVK)
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(w), got); err != nil {
				return err
			}
			_ = unstructured.SetNestedField(got.Object, int64(5), "spec", "size")
			return k8sClient.Update(ctx, got)
		}).WithTimeout(10 * time.Second).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "default", Name: "widget-blue"}, cm)).To(Succeed())
			g.Expect(cm.Data).To(HaveKeyWithValue("size", "5"))
		}).WithTimeout(20 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())

		// The schema rejects an invalid object with a 422.
		bad := &unstructured.Unstructured{}
		bad.SetGroupVersionKind(widgetGVK)
		bad.SetName("bad")
		bad.SetNamespace("default")
		_ = unstructured.SetNestedField(bad.Object, int64(0), "spec", "size")
		err := k8sClient.Create(ctx, bad)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.size"))
	})

	It("calls the suite's webhooks through the API server", func() {
		w := &unstructured.Unstructured{}
		w.SetGroupVersionKind(widgetGVK)
		w.SetName("plain")
		w.SetNamespace("default")
		Expect(k8sClient.Create(ctx, w)).To(Succeed())
		color, _, _ := unstructured.NestedString(w.Object, "spec", "color")
		Expect(color).To(Equal("gray"), "the mutating webhook's default applies")
		size, _, _ := unstructured.NestedInt64(w.Object, "spec", "size")
		Expect(size).To(Equal(int64(2)), "and the schema's default too")

		red := &unstructured.Unstructured{}
		red.SetGroupVersionKind(widgetGVK)
		red.SetName("red")
		red.SetNamespace("default")
		_ = unstructured.SetNestedField(red.Object, "red", "spec", "color")
		err := k8sClient.Create(ctx, red)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring(`admission webhook "vwidget.example.skiff.dev" denied the request: red widgets are not allowed`))
		Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(red), red))).To(BeTrue(), "nothing was stored")
	})
})
