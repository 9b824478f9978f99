package controllers

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var _ = Describe("a node that stops heartbeating", Ordered, func() {
	It("turns Unknown, is tainted unreachable, and its pods are evicted and replaced elsewhere", func() {
		stopA := startNode("life-a", "4", map[string]string{"pool": "life"})
		ns := newNamespace()
		rs := replicaSet(ns, "svc", "life", 2)
		// Evict after 1 s instead of the 300 s that admission would add.
		rs.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists,
			Effect: corev1.TaintEffectNoExecute, TolerationSeconds: new(int64(1))}}
		Expect(k8sClient.Create(suiteCtx, rs)).To(Succeed())
		Eventually(func(g Gomega) {
			got := &appsv1.ReplicaSet{}
			g.Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(rs), got)).To(Succeed())
			g.Expect(got.Status.ReadyReplicas).To(BeEquivalentTo(2))
		}).Should(Succeed())
		for _, p := range podsOf(ns, map[string]string{"app": "svc"}) {
			Expect(p.Spec.NodeName).To(Equal("life-a"))
		}

		startNode("life-b", "4", map[string]string{"pool": "life"})
		stopA()
		Eventually(func(g Gomega) {
			n := &corev1.Node{}
			g.Expect(k8sClient.Get(suiteCtx, client.ObjectKey{Name: "life-a"}, n)).To(Succeed())
			g.Expect(nodeReady(n)).To(Equal(corev1.ConditionUnknown))
			g.Expect(n.Spec.Taints).To(ContainElement(And(HaveField("Key", corev1.TaintNodeUnreachable), HaveField("Effect", corev1.TaintEffectNoExecute))))
		}).Should(Succeed())

		Eventually(func(g Gomega) {
			got := &appsv1.ReplicaSet{}
			g.Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(rs), got)).To(Succeed())
			g.Expect(got.Status.ReadyReplicas).To(BeEquivalentTo(2))
			onB := 0
			for _, p := range podsOf(ns, map[string]string{"app": "svc"}) {
				if p.DeletionTimestamp == nil && p.Spec.NodeName == "life-b" && p.Status.Phase == corev1.PodRunning {
					onB++
				}
			}
			g.Expect(onB).To(Equal(2))
		}).Should(Succeed())
		// The evicted pods stay Terminating (their node is gone), marked
		// as disrupted by the taint manager.
		terminating := 0
		for _, p := range podsOf(ns, map[string]string{"app": "svc"}) {
			if p.Spec.NodeName == "life-a" {
				Expect(p.DeletionTimestamp).NotTo(BeNil())
				Expect(p.Status.Conditions).To(ContainElement(And(HaveField("Type", corev1.DisruptionTarget), HaveField("Reason", "DeletionByTaintManager"))))
				Expect(p.Status.Conditions).To(ContainElement(And(HaveField("Type", corev1.PodReady), HaveField("Status", corev1.ConditionFalse))),
					"pods of a node that stopped reporting are marked not ready")
				terminating++
			}
		}
		Expect(terminating).To(Equal(2))
		got := &appsv1.ReplicaSet{}
		Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(rs), got)).To(Succeed())
		Expect(got.Status.TerminatingReplicas).To(HaveValue(BeEquivalentTo(2)))
	})

	It("removes pods bound to a node that does not exist, or was deleted", func() {
		ns := newNamespace()
		ghost := &corev1.Pod{}
		ghost.Namespace, ghost.Name = ns, "ghost"
		ghost.Spec = corev1.PodSpec{NodeName: "no-such-node", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}
		Expect(k8sClient.Create(suiteCtx, ghost)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(ghost), &corev1.Pod{}))
		}).Should(BeTrue(), "collected after the (1 s) quarantine")

		stop := startNode("gone-a", "4", map[string]string{"pool": "gone"})
		rs := replicaSet(ns, "gone", "gone", 2)
		Expect(k8sClient.Create(suiteCtx, rs)).To(Succeed())
		Eventually(func() int { return len(podsOf(ns, map[string]string{"app": "gone"})) }).Should(Equal(2))
		stop()
		Expect(k8sClient.Delete(suiteCtx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "gone-a"}})).To(Succeed())
		// The node's pods go; their replacements wait for a node.
		Eventually(func(g Gomega) {
			for _, p := range podsOf(ns, map[string]string{"app": "gone"}) {
				g.Expect(p.Spec.NodeName).To(BeEmpty())
			}
		}).Should(Succeed())
	})
})
