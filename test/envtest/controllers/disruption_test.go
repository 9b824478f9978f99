package controllers

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var _ = Describe("PodDisruptionBudgets", Ordered, func() {
	var ns string
	BeforeAll(func() {
		startNode("pdb-a", "8", map[string]string{"pool": "pdb"})
		ns = newNamespace()
	})

	budget := func(name string) func(Gomega) *policyv1.PodDisruptionBudget {
		return func(g Gomega) *policyv1.PodDisruptionBudget {
			got := &policyv1.PodDisruptionBudget{}
			g.Expect(k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: name}, got)).To(Succeed())
			g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
			return got
		}
	}
	evict := func(pod string) error {
		return clientset.PolicyV1().Evictions(ns).Evict(suiteCtx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: pod}})
	}

	It("keeps a budget's status from its ready pods, lets evictions through while it allows, and refuses the rest (429)", func() {
		Expect(k8sClient.Create(suiteCtx, replicaSet(ns, "guarded", "pdb", 3))).To(Succeed())
		minAvailable := intstr.FromInt32(2)
		Expect(k8sClient.Create(suiteCtx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "min2"},
			Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &minAvailable, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "guarded"}}}})).To(Succeed())
		Eventually(func(g Gomega) {
			got := budget("min2")(g)
			g.Expect(got.Status.ExpectedPods).To(BeEquivalentTo(3))
			g.Expect(got.Status.DesiredHealthy).To(BeEquivalentTo(2))
			g.Expect(got.Status.CurrentHealthy).To(BeEquivalentTo(3))
			g.Expect(got.Status.DisruptionsAllowed).To(BeEquivalentTo(1))
			c := meta.FindStatusCondition(got.Status.Conditions, policyv1.DisruptionAllowedCondition)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Reason).To(Equal(policyv1.SufficientPodsReason))
		}).Should(Succeed())

		pods := podsOf(ns, map[string]string{"app": "guarded"})
		Expect(evict(pods[0].Name)).To(Succeed())
		err := evict(pods[1].Name)
		Expect(apierrors.IsTooManyRequests(err)).To(BeTrue(), "a second eviction: %v", err)
		Expect(err.Error()).To(ContainSubstring("Cannot evict pod as it would violate the pod's disruption budget."))

		// The ReplicaSet replaces the evicted pod; once it is ready, the
		// budget allows one disruption again.
		Eventually(func(g Gomega) {
			got := budget("min2")(g)
			g.Expect(got.Status.DisruptedPods).To(BeEmpty())
			g.Expect(got.Status.CurrentHealthy).To(BeEquivalentTo(3))
			g.Expect(got.Status.DisruptionsAllowed).To(BeEquivalentTo(1))
		}).WithTimeout(30 * time.Second).Should(Succeed())
		Expect(evict(pods[1].Name)).To(Succeed())
	})

	It("counts a percentage against the controllers' replicas, and says why it cannot when a pod has none", func() {
		maxUnavailable := intstr.FromString("50%")
		Expect(k8sClient.Create(suiteCtx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "half"},
			Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &maxUnavailable, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "guarded"}}}})).To(Succeed())
		Eventually(func(g Gomega) {
			got := budget("half")(g)
			g.Expect(got.Status.ExpectedPods).To(BeEquivalentTo(3))
			g.Expect(got.Status.DesiredHealthy).To(BeEquivalentTo(1), "50% of 3 unavailable, rounded up")
		}).WithTimeout(30 * time.Second).Should(Succeed())

		// A bare pod under a percentage: no controller to take the scale of.
		bare := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bare", Labels: map[string]string{"app": "bare"}},
			Spec: corev1.PodSpec{NodeSelector: map[string]string{"pool": "pdb"}, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
		Expect(k8sClient.Create(suiteCtx, bare)).To(Succeed())
		minPercent := intstr.FromString("50%")
		Expect(k8sClient.Create(suiteCtx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bare"},
			Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &minPercent, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "bare"}}}})).To(Succeed())
		Eventually(func(g Gomega) {
			got := budget("bare")(g)
			g.Expect(got.Status.DisruptionsAllowed).To(BeEquivalentTo(0))
			c := meta.FindStatusCondition(got.Status.Conditions, policyv1.DisruptionAllowedCondition)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal(policyv1.SyncFailedReason))
			g.Expect(c.Message).To(Equal(`found no controller ref for pod "bare"`))
		}).Should(Succeed())
	})
})
