package controllers

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/skiffhq/skiff/controllers"
	"github.com/skiffhq/skiff/kubelet"
	"github.com/skiffhq/skiff/kubelet/sim"
	"github.com/skiffhq/skiff/test/testserver"
)

// gracePeriod is the node monitor grace period of this suite: short, so
// that a node going silent is noticed within the test.
const gracePeriod = 3 * time.Second

var (
	cfg       *rest.Config
	k8sClient client.Client
	clientset kubernetes.Interface
	testEnv   *envtest.Environment
	stop      context.CancelFunc
	suiteCtx  context.Context
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	RunSpecs(t, "skiff controllers on envtest")
}

var _ = BeforeSuite(func() {
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	bin, err := testserver.Binary()
	Expect(err).NotTo(HaveOccurred())
	assets := GinkgoT().TempDir()
	for _, name := range []string{"kube-apiserver", "etcd"} {
		Expect(os.Symlink(bin, filepath.Join(assets, name))).To(Succeed())
	}
	GinkgoT().Setenv("KUBEBUILDER_ASSETS", assets)
	testEnv = &envtest.Environment{}
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())

	scheme := runtime.NewScheme()
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	clientset, err = kubernetes.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())

	suiteCtx, stop = context.WithCancel(context.Background())
	// The CronJob controller runs in its own spec, on a fake clock.
	mgr, err := controllers.New(cfg, controllers.Options{NodeMonitorGracePeriod: gracePeriod, OrphanQuarantine: time.Second,
		Controllers: []string{"*", "-cronjob"},
		RootCA:      []byte("-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n")})
	Expect(err).NotTo(HaveOccurred())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(suiteCtx)).To(Succeed())
	}()
})

var _ = AfterSuite(func() {
	if stop != nil {
		stop()
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

// startNode runs a simulated node in the test process until the returned
// function is called (the node then stops heartbeating, as a crashed
// machine would) or the suite ends.
func startNode(name, cpu string, labels map[string]string) context.CancelFunc {
	c, err := kubernetes.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())
	capacity := kubelet.DefaultCapacity()
	capacity[corev1.ResourceCPU] = resource.MustParse(cpu)
	host, err := kubelet.New(kubelet.Config{
		Client: c, LeaseDuration: gracePeriod,
		Nodes: []kubelet.NodeConfig{{Name: name, Runtime: sim.New(clock.RealClock{}), Capacity: capacity, Labels: labels,
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "172.30.9.9"}}}},
	})
	Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(suiteCtx)
	go func() {
		defer GinkgoRecover()
		Expect(host.Run(ctx)).To(Succeed())
	}()
	Eventually(func(g Gomega) {
		n := &corev1.Node{}
		g.Expect(k8sClient.Get(suiteCtx, client.ObjectKey{Name: name}, n)).To(Succeed())
		g.Expect(nodeReady(n)).To(Equal(corev1.ConditionTrue))
		g.Expect(n.Spec.PodCIDR).NotTo(BeEmpty())
		g.Expect(n.Spec.Taints).To(BeEmpty(), "the not-ready taint from admission is lifted once the node is Ready")
	}).Should(Succeed())
	return cancel
}

func nodeReady(n *corev1.Node) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return ""
}

// newNamespace creates a namespace for one spec.
func newNamespace() string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "t-"}}
	Expect(k8sClient.Create(suiteCtx, ns)).To(Succeed())
	return ns.Name
}
