package controllers

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func replicaSet(ns, name, pool string, replicas int32) *appsv1.ReplicaSet {
	labels := map[string]string{"app": name}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{"pool": pool},
					Containers: []corev1.Container{{Name: "c", Image: "busybox", Resources: corev1.ResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}},
				},
			},
		},
	}
}

func podsOf(ns string, labels map[string]string) []corev1.Pod {
	var list corev1.PodList
	Expect(k8sClient.List(suiteCtx, &list, client.InNamespace(ns), client.MatchingLabels(labels))).To(Succeed())
	return list.Items
}

var _ = Describe("ReplicaSets on simulated nodes", Ordered, func() {
	var ns string
	BeforeAll(func() {
		startNode("rs-a", "4", map[string]string{"pool": "rs"})
		startNode("rs-b", "4", map[string]string{"pool": "rs"})
		ns = newNamespace()
	})

	It("gives a new namespace its default ServiceAccount and the kube-root-ca.crt ConfigMap", func() {
		Eventually(func() error {
			return k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "default"}, &corev1.ServiceAccount{})
		}).Should(Succeed())
		cm := &corev1.ConfigMap{}
		Eventually(func() error {
			return k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "kube-root-ca.crt"}, cm)
		}).Should(Succeed())
		Expect(cm.Data["ca.crt"]).To(ContainSubstring("BEGIN CERTIFICATE"))
		// Changed by hand, it is put back.
		cm.Data["ca.crt"] = "tampered"
		Expect(k8sClient.Update(suiteCtx, cm)).To(Succeed())
		Eventually(func(g Gomega) {
			got := &corev1.ConfigMap{}
			g.Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(cm), got)).To(Succeed())
			g.Expect(got.Data["ca.crt"]).To(ContainSubstring("BEGIN CERTIFICATE"))
		}).Should(Succeed())
	})

	It("creates pods that get scheduled, IPs from their node's podCIDR, and Running", func() {
		rs := replicaSet(ns, "web", "rs", 4)
		Expect(k8sClient.Create(suiteCtx, rs)).To(Succeed())
		Eventually(func(g Gomega) {
			got := &appsv1.ReplicaSet{}
			g.Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(rs), got)).To(Succeed())
			g.Expect(got.Status.Replicas).To(BeEquivalentTo(4))
			g.Expect(got.Status.ReadyReplicas).To(BeEquivalentTo(4))
			g.Expect(got.Status.AvailableReplicas).To(BeEquivalentTo(4))
			g.Expect(got.Status.FullyLabeledReplicas).To(BeEquivalentTo(4))
			g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
		}).Should(Succeed())
		perNode := map[string]int{}
		for _, p := range podsOf(ns, map[string]string{"app": "web"}) {
			Expect(p.Status.Phase).To(Equal(corev1.PodRunning))
			Expect(metav1.GetControllerOf(&p).Name).To(Equal("web"))
			node := &corev1.Node{}
			Expect(k8sClient.Get(suiteCtx, client.ObjectKey{Name: p.Spec.NodeName}, node)).To(Succeed())
			Expect(cidrContains(node.Spec.PodCIDR, p.Status.PodIP)).To(BeTrue(), "pod IP %s outside %s", p.Status.PodIP, node.Spec.PodCIDR)
			perNode[p.Spec.NodeName]++
		}
		Expect(perNode).To(Equal(map[string]int{"rs-a": 2, "rs-b": 2}), "least-allocated scoring spreads the pods")
	})

	It("scales down, deleting surplus pods, and replaces a deleted pod", func() {
		rs := &appsv1.ReplicaSet{}
		Expect(k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "web"}, rs)).To(Succeed())
		rs.Spec.Replicas = new(int32(2))
		Expect(k8sClient.Update(suiteCtx, rs)).To(Succeed())
		Eventually(func() int { return len(podsOf(ns, map[string]string{"app": "web"})) }).Should(Equal(2))

		victim := podsOf(ns, map[string]string{"app": "web"})[0]
		Expect(k8sClient.Delete(suiteCtx, &victim)).To(Succeed())
		Eventually(func(g Gomega) {
			pods := podsOf(ns, map[string]string{"app": "web"})
			g.Expect(pods).To(HaveLen(2))
			for _, p := range pods {
				g.Expect(p.UID).NotTo(Equal(victim.UID))
				g.Expect(p.Status.Phase).To(Equal(corev1.PodRunning))
			}
		}).Should(Succeed())
	})

	It("adopts a matching orphan, keeps two pods, and releases a pod whose labels stop matching", func() {
		orphan := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "orphan", Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}, NodeSelector: map[string]string{"pool": "rs"}}}
		Expect(k8sClient.Create(suiteCtx, orphan)).To(Succeed())
		// Adopted, one of the three is surplus: which one depends on
		// readiness and age at one-second resolution, as upstream.
		Eventually(func(g Gomega) {
			pods := podsOf(ns, map[string]string{"app": "web"})
			g.Expect(pods).To(HaveLen(2))
			for _, p := range pods {
				g.Expect(metav1.GetControllerOf(&p)).To(HaveField("Name", "web"))
			}
			got := &corev1.Pod{}
			if err := k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(orphan), got); err == nil && got.DeletionTimestamp == nil {
				g.Expect(metav1.GetControllerOf(got)).To(HaveField("Name", "web"), "the orphan was adopted")
			}
		}).Should(Succeed())

		p := podsOf(ns, map[string]string{"app": "web"})[0]
		p.Labels = map[string]string{"app": "other"}
		Expect(k8sClient.Update(suiteCtx, &p)).To(Succeed())
		Eventually(func(g Gomega) {
			got := &corev1.Pod{}
			g.Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(&p), got)).To(Succeed())
			g.Expect(metav1.GetControllerOf(got)).To(BeNil(), "released")
			g.Expect(podsOf(ns, map[string]string{"app": "web"})).To(HaveLen(2), "and replaced")
		}).Should(Succeed())
	})

	It("records events for the pods it creates and deletes", func() {
		Eventually(func(g Gomega) {
			var events corev1.EventList
			g.Expect(k8sClient.List(suiteCtx, &events, client.InNamespace(ns))).To(Succeed())
			reasons := map[string]bool{}
			for _, e := range events.Items {
				if e.InvolvedObject.Kind == "ReplicaSet" {
					reasons[e.Reason] = true
				}
			}
			g.Expect(reasons).To(HaveKey("SuccessfulCreate"))
			g.Expect(reasons).To(HaveKey("SuccessfulDelete"))
		}).Should(Succeed())
	})
})

var _ = Describe("the scheduler", Ordered, func() {
	var ns string
	BeforeAll(func() {
		startNode("sched-a", "2", map[string]string{"pool": "sched"})
		ns = newNamespace()
	})

	It("reports a pod that fits nowhere, and places it when a node with room joins", func() {
		rs := replicaSet(ns, "big", "sched", 3)
		Expect(k8sClient.Create(suiteCtx, rs)).To(Succeed())
		var pending corev1.Pod
		Eventually(func(g Gomega) {
			var waiting []corev1.Pod
			for _, p := range podsOf(ns, map[string]string{"app": "big"}) {
				if p.Spec.NodeName == "" {
					waiting = append(waiting, p)
				}
			}
			g.Expect(waiting).To(HaveLen(1))
			pending = waiting[0]
			var cond *corev1.PodCondition
			for i := range pending.Status.Conditions {
				if pending.Status.Conditions[i].Type == corev1.PodScheduled {
					cond = &pending.Status.Conditions[i]
				}
			}
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Status).To(Equal(corev1.ConditionFalse))
			g.Expect(cond.Reason).To(Equal("Unschedulable"))
			// Every other node in the suite lacks pool=sched.
			// Nodes of other specs fail for other reasons.
			g.Expect(cond.Message).To(MatchRegexp(`^0/\d+ nodes are available: (.*, )?1 Insufficient cpu(, .*)?\.$`))
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			var events corev1.EventList
			g.Expect(k8sClient.List(suiteCtx, &events, client.InNamespace(ns), client.MatchingFields{"involvedObject.name": pending.Name})).To(Succeed())
			g.Expect(events.Items).To(ContainElement(HaveField("Reason", "FailedScheduling")))
		}).Should(Succeed())

		startNode("sched-b", "2", map[string]string{"pool": "sched"})
		Eventually(func(g Gomega) {
			got := &corev1.Pod{}
			g.Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(&pending), got)).To(Succeed())
			g.Expect(got.Spec.NodeName).To(Equal("sched-b"))
			g.Expect(got.Status.Phase).To(Equal(corev1.PodRunning))
		}).Should(Succeed())
	})
})

func cidrContains(cidr, ip string) bool {
	var a, b, c, d, bits int
	var x, y, z, w int
	if _, err := fmt.Sscanf(cidr, "%d.%d.%d.%d/%d", &a, &b, &c, &d, &bits); err != nil || bits != 24 {
		return false
	}
	if _, err := fmt.Sscanf(ip, "%d.%d.%d.%d", &x, &y, &z, &w); err != nil {
		return false
	}
	return a == x && b == y && c == z && w > 1
}
