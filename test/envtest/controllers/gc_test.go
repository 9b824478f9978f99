package controllers

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var _ = Describe("garbage collection and namespace deletion", Ordered, func() {
	BeforeAll(func() {
		startNode("gc-a", "8", map[string]string{"pool": "gc"})
	})

	runningRS := func(ns, name string) *appsv1.ReplicaSet {
		rs := replicaSet(ns, name, "gc", 2)
		Expect(k8sClient.Create(suiteCtx, rs)).To(Succeed())
		Eventually(func() int { return len(podsOf(ns, map[string]string{"app": name})) }).Should(Equal(2))
		return rs
	}

	It("deletes dependents in the background, keeps them with Orphan, and deletes them first with Foreground", func() {
		ns := newNamespace()
		bg, orphan, fg := runningRS(ns, "bg"), runningRS(ns, "orphan"), runningRS(ns, "fg")

		Expect(k8sClient.Delete(suiteCtx, bg, client.PropagationPolicy(metav1.DeletePropagationBackground))).To(Succeed())
		Eventually(func() []corev1.Pod { return podsOf(ns, map[string]string{"app": "bg"}) }).Should(BeEmpty())

		Expect(k8sClient.Delete(suiteCtx, orphan, client.PropagationPolicy(metav1.DeletePropagationOrphan))).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(orphan), &appsv1.ReplicaSet{}))
		}).Should(BeTrue())
		Consistently(func(g Gomega) {
			pods := podsOf(ns, map[string]string{"app": "orphan"})
			g.Expect(pods).To(HaveLen(2))
			for _, p := range pods {
				g.Expect(p.OwnerReferences).To(BeEmpty())
				g.Expect(p.DeletionTimestamp).To(BeNil())
			}
		}).WithTimeout(time.Second).Should(Succeed())

		Expect(k8sClient.Delete(suiteCtx, fg, client.PropagationPolicy(metav1.DeletePropagationForeground))).To(Succeed())
		// The owner stays, with the foregroundDeletion finalizer, until
		// its pods are gone.
		got := &appsv1.ReplicaSet{}
		if err := k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(fg), got); err == nil {
			Expect(got.Finalizers).To(ContainElement(metav1.FinalizerDeleteDependents))
		}
		Eventually(func(g Gomega) {
			g.Expect(apierrors.IsNotFound(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(fg), &appsv1.ReplicaSet{}))).To(BeTrue())
			g.Expect(podsOf(ns, map[string]string{"app": "fg"})).To(BeEmpty())
		}).Should(Succeed())
	})

	It("deletes an object whose owner never existed, and drops a dead owner while a live one remains", func() {
		ns := newNamespace()
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "dangling", OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "v1", Kind: "ConfigMap", Name: "nobody", UID: "00000000-0000-0000-0000-000000000001"}}}}
		Expect(k8sClient.Create(suiteCtx, cm)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(cm), &corev1.ConfigMap{}))
		}).Should(BeTrue())

		owner := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "owner"}}
		Expect(k8sClient.Create(suiteCtx, owner)).To(Succeed())
		both := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "both", OwnerReferences: []metav1.OwnerReference{
			{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: owner.UID},
			{APIVersion: "v1", Kind: "ConfigMap", Name: "nobody", UID: "00000000-0000-0000-0000-000000000002"}}}}
		Expect(k8sClient.Create(suiteCtx, both)).To(Succeed())
		Eventually(func(g Gomega) {
			got := &corev1.ConfigMap{}
			g.Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(both), got)).To(Succeed())
			g.Expect(got.OwnerReferences).To(HaveLen(1))
			g.Expect(got.OwnerReferences[0].UID).To(Equal(owner.UID))
		}).Should(Succeed())
		Expect(k8sClient.Delete(suiteCtx, owner)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(both), &corev1.ConfigMap{}))
		}).Should(BeTrue())
	})

	It("empties a deleted namespace, then finalizes it", func() {
		ns := newNamespace()
		runningRS(ns, "doomed")
		Expect(k8sClient.Create(suiteCtx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "c"}})).To(Succeed())
		held := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "held", Finalizers: []string{"example.com/hold"}}}
		Expect(k8sClient.Create(suiteCtx, held)).To(Succeed())
		Expect(k8sClient.Delete(suiteCtx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())

		// A finalizer holds one object: the namespace says so and waits.
		Eventually(func(g Gomega) {
			got := &corev1.Namespace{}
			g.Expect(k8sClient.Get(suiteCtx, client.ObjectKey{Name: ns}, got)).To(Succeed())
			g.Expect(got.Status.Phase).To(Equal(corev1.NamespaceTerminating))
			g.Expect(got.Status.Conditions).To(ContainElement(And(HaveField("Type", corev1.NamespaceFinalizersRemaining),
				HaveField("Status", corev1.ConditionTrue), HaveField("Message", ContainSubstring("example.com/hold has 1 resource instances")))))
			g.Expect(podsOf(ns, nil)).To(BeEmpty())
		}).Should(Succeed())

		Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(held), held)).To(Succeed())
		held.Finalizers = nil
		Expect(k8sClient.Update(suiteCtx, held)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(suiteCtx, client.ObjectKey{Name: ns}, &corev1.Namespace{}))
		}).Should(BeTrue())
	})
})
