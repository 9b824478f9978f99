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

var _ = Describe("StatefulSets", Ordered, func() {
	var ns string
	BeforeAll(func() {
		startNode("sts-a", "16", map[string]string{"pool": "sts"})
		ns = newNamespace()
	})

	set := func(name string, replicas int32) *appsv1.StatefulSet {
		labels := map[string]string{"app": name}
		return &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: appsv1.StatefulSetSpec{
				Replicas: &replicas, ServiceName: name,
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{NodeSelector: map[string]string{"pool": "sts"}, Containers: []corev1.Container{{Name: "c", Image: name + ":1"}}}},
				VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"},
					Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
						Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}},
			},
		}
	}
	ready := func(name string, n int32) func(Gomega) {
		return func(g Gomega) {
			got := &appsv1.StatefulSet{}
			g.Expect(k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: name}, got)).To(Succeed())
			g.Expect(got.Status.ReadyReplicas).To(Equal(n))
			g.Expect(got.Status.UpdatedReplicas).To(Equal(n))
			g.Expect(got.Status.CurrentRevision).To(Equal(got.Status.UpdateRevision))
		}
	}

	It("creates ordinal pods one at a time, with hostnames and claims", func() {
		Expect(k8sClient.Create(suiteCtx, set("db", 3))).To(Succeed())
		Eventually(ready("db", 3)).Should(Succeed())
		pods := podsOf(ns, map[string]string{"app": "db"})
		Expect(pods).To(HaveLen(3))
		byName := map[string]corev1.Pod{}
		for _, p := range pods {
			byName[p.Name] = p
		}
		for i := range 3 {
			p, ok := byName[fmt.Sprintf("db-%d", i)]
			Expect(ok).To(BeTrue(), "pod db-%d", i)
			Expect(p.Spec.Hostname).To(Equal(p.Name))
			Expect(p.Spec.Subdomain).To(Equal("db"))
			Expect(p.Labels).To(HaveKeyWithValue(appsv1.PodIndexLabel, fmt.Sprint(i)))
			Expect(p.Spec.Volumes).To(ContainElement(HaveField("VolumeSource.PersistentVolumeClaim.ClaimName", "data-"+p.Name)))
			Expect(k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "data-" + p.Name}, &corev1.PersistentVolumeClaim{})).To(Succeed())
		}
		// OrderedReady: each pod was created after its predecessor was
		// ready, so creation times are ordered.
		Expect(byName["db-0"].CreationTimestamp.Time).NotTo(BeTemporally(">", byName["db-1"].CreationTimestamp.Time))
		Expect(byName["db-1"].CreationTimestamp.Time).NotTo(BeTemporally(">", byName["db-2"].CreationTimestamp.Time))
	})

	It("rolls an update from the highest ordinal, stopping at the partition", func() {
		Eventually(func() error {
			got := &appsv1.StatefulSet{}
			if err := k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "db"}, got); err != nil {
				return err
			}
			got.Spec.Template.Spec.Containers[0].Image = "db:2"
			got.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: new(int32(1))}}
			return k8sClient.Update(suiteCtx, got)
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			images := map[string]string{}
			for _, p := range podsOf(ns, map[string]string{"app": "db"}) {
				if p.DeletionTimestamp == nil {
					images[p.Name] = p.Spec.Containers[0].Image
				}
			}
			g.Expect(images).To(Equal(map[string]string{"db-0": "db:1", "db-1": "db:2", "db-2": "db:2"}))
			got := &appsv1.StatefulSet{}
			g.Expect(k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "db"}, got)).To(Succeed())
			g.Expect(got.Status.UpdatedReplicas).To(BeEquivalentTo(2))
			g.Expect(got.Status.CurrentRevision).NotTo(Equal(got.Status.UpdateRevision))
		}).Should(Succeed())
	})

	It("scales down from the highest ordinal", func() {
		Eventually(func() error {
			got := &appsv1.StatefulSet{}
			if err := k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "db"}, got); err != nil {
				return err
			}
			got.Spec.Replicas = new(int32(1))
			return k8sClient.Update(suiteCtx, got)
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			var names []string
			for _, p := range podsOf(ns, map[string]string{"app": "db"}) {
				names = append(names, p.Name)
			}
			g.Expect(names).To(ConsistOf("db-0"))
		}).Should(Succeed())
	})
})

var _ = Describe("DaemonSets", Ordered, func() {
	It("runs one pod on every eligible node, including nodes that join later", func() {
		startNode("ds-a", "4", map[string]string{"pool": "ds"})
		ns := newNamespace()
		labels := map[string]string{"app": "agent"}
		ds := &appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "agent"},
			Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{NodeSelector: map[string]string{"pool": "ds"}, Containers: []corev1.Container{{Name: "c", Image: "agent"}}}}},
		}
		Expect(k8sClient.Create(suiteCtx, ds)).To(Succeed())
		onNodes := func(g Gomega) []string {
			var nodes []string
			for _, p := range podsOf(ns, labels) {
				if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
					nodes = append(nodes, p.Spec.NodeName)
				}
			}
			return nodes
		}
		Eventually(onNodes).Should(ConsistOf("ds-a"))
		startNode("ds-b", "4", map[string]string{"pool": "ds"})
		Eventually(onNodes).Should(ConsistOf("ds-a", "ds-b"))
		Eventually(func(g Gomega) {
			got := &appsv1.DaemonSet{}
			g.Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(ds), got)).To(Succeed())
			g.Expect(got.Status.DesiredNumberScheduled).To(BeEquivalentTo(2))
			g.Expect(got.Status.NumberAvailable).To(BeEquivalentTo(2))
			g.Expect(got.Status.UpdatedNumberScheduled).To(BeEquivalentTo(2))
		}).Should(Succeed())
		for _, p := range podsOf(ns, labels) {
			Expect(p.Spec.Tolerations).To(ContainElement(HaveField("Key", corev1.TaintNodeUnreachable)))
		}
	})
})
