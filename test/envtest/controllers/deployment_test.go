package controllers

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func deploymentOf(ns, name, pool, image string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{NodeSelector: map[string]string{"pool": pool},
					Containers: []corev1.Container{{Name: "c", Image: image}}},
			},
		},
	}
}

func rolledOut(ns, name string, generation int64) func(Gomega) {
	return func(g Gomega) {
		d := &appsv1.Deployment{}
		g.Expect(k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: name}, d)).To(Succeed())
		want := *d.Spec.Replicas
		g.Expect(d.Status.ObservedGeneration).To(BeNumerically(">=", generation))
		g.Expect(d.Status.UpdatedReplicas).To(Equal(want))
		g.Expect(d.Status.Replicas).To(Equal(want))
		g.Expect(d.Status.AvailableReplicas).To(Equal(want))
		g.Expect(d.Status.Conditions).To(ContainElement(And(HaveField("Type", appsv1.DeploymentProgressing), HaveField("Reason", "NewReplicaSetAvailable"))))
		g.Expect(d.Status.Conditions).To(ContainElement(And(HaveField("Type", appsv1.DeploymentAvailable), HaveField("Status", corev1.ConditionTrue))))
	}
}

// setImage changes a Deployment's image, retrying on conflicts with the
// controller's own writes, and returns the new generation.
func setImage(d *appsv1.Deployment, image string) int64 {
	var gen int64
	Eventually(func() error {
		if err := k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(d), d); err != nil {
			return err
		}
		d.Spec.Template.Spec.Containers[0].Image = image
		if err := k8sClient.Update(suiteCtx, d); err != nil {
			return err
		}
		gen = d.Generation
		return nil
	}).Should(Succeed())
	return gen
}

func replicaSetsOf(ns string) map[string]appsv1.ReplicaSet {
	var list appsv1.ReplicaSetList
	Expect(k8sClient.List(suiteCtx, &list, client.InNamespace(ns))).To(Succeed())
	out := map[string]appsv1.ReplicaSet{}
	for _, rs := range list.Items {
		out[rs.Spec.Template.Spec.Containers[0].Image] = rs
	}
	return out
}

var _ = Describe("Deployments", Ordered, func() {
	var ns string
	BeforeAll(func() {
		startNode("deploy-a", "16", map[string]string{"pool": "deploy"})
		startNode("deploy-b", "16", map[string]string{"pool": "deploy"})
		ns = newNamespace()
	})

	It("rolls out, rolls a new template out within maxSurge/maxUnavailable, and rolls back", func() {
		d := deploymentOf(ns, "web", "deploy", "web:1", 4)
		Expect(k8sClient.Create(suiteCtx, d)).To(Succeed())
		Eventually(rolledOut(ns, "web", 1)).Should(Succeed())
		first := replicaSetsOf(ns)["web:1"]
		Expect(first.Annotations).To(HaveKeyWithValue("deployment.kubernetes.io/revision", "1"))
		Expect(first.Labels).To(HaveKey(appsv1.DefaultDeploymentUniqueLabelKey))
		Expect(first.Name).To(Equal("web-" + first.Labels[appsv1.DefaultDeploymentUniqueLabelKey]))

		// Watch the pod count during the rollout: never more than 4+1
		// (25% surge rounds up) nor fewer than 3 available.
		setImage(d, "web:2")
		Eventually(func(g Gomega) {
			var total int32
			for _, rs := range replicaSetsOf(ns) {
				total += *rs.Spec.Replicas
			}
			g.Expect(total).To(BeNumerically("<=", 5))
			rolledOut(ns, "web", d.Generation)(g)
		}).Should(Succeed())
		rss := replicaSetsOf(ns)
		Expect(*rss["web:1"].Spec.Replicas).To(BeEquivalentTo(0))
		Expect(rss["web:2"].Annotations).To(HaveKeyWithValue("deployment.kubernetes.io/revision", "2"))

		// Rolling back (what kubectl rollout undo does: the old template)
		// reuses the old ReplicaSet under a new revision.
		setImage(d, "web:1")
		Eventually(rolledOut(ns, "web", d.Generation)).Should(Succeed())
		rss = replicaSetsOf(ns)
		Expect(rss).To(HaveLen(2))
		Expect(rss["web:1"].UID).To(Equal(first.UID))
		Expect(rss["web:1"].Annotations).To(HaveKeyWithValue("deployment.kubernetes.io/revision", "3"))
		Expect(rss["web:1"].Annotations).To(HaveKeyWithValue("deployment.kubernetes.io/revision-history", "1"))
		Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(d), d)).To(Succeed())
		Expect(d.Annotations).To(HaveKeyWithValue("deployment.kubernetes.io/revision", "3"))
	})

	It("keeps only revisionHistoryLimit old ReplicaSets", func() {
		d := deploymentOf(ns, "hist", "deploy", "hist:0", 1)
		d.Spec.RevisionHistoryLimit = new(int32(1))
		Expect(k8sClient.Create(suiteCtx, d)).To(Succeed())
		// Each change waits for the previous rollout to finish, so that
		// every image gets its own ReplicaSet (a change made mid-rollout
		// may skip one, as upstream).
		var gen int64
		for _, img := range []string{"hist:1", "hist:2", "hist:3"} {
			Eventually(rolledOut(ns, "hist", gen)).Should(Succeed())
			gen = setImage(d, img)
		}
		Eventually(func(g Gomega) {
			rolledOut(ns, "hist", d.Generation)(g)
			var list appsv1.ReplicaSetList
			g.Expect(k8sClient.List(suiteCtx, &list, client.InNamespace(ns), client.MatchingLabels{"app": "hist"})).To(Succeed())
			var images []string
			for _, rs := range list.Items {
				images = append(images, rs.Spec.Template.Spec.Containers[0].Image)
			}
			g.Expect(images).To(ConsistOf("hist:2", "hist:3"))
		}).Should(Succeed())
	})

	It("recreates: no new pod before every old one is gone", func() {
		d := deploymentOf(ns, "rec", "deploy", "rec:1", 2)
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
		Expect(k8sClient.Create(suiteCtx, d)).To(Succeed())
		Eventually(rolledOut(ns, "rec", 1)).Should(Succeed())
		setImage(d, "rec:2")
		Eventually(rolledOut(ns, "rec", d.Generation)).Should(Succeed())
		// The new ReplicaSet was created only after the old one was empty:
		// its pods are all newer than the last old pod's deletion.
		var events corev1.EventList
		Expect(k8sClient.List(suiteCtx, &events, client.InNamespace(ns))).To(Succeed())
		var msgs []string
		for _, e := range events.Items {
			if e.InvolvedObject.Name == "rec" && e.Reason == "ScalingReplicaSet" {
				msgs = append(msgs, e.Message)
			}
		}
		Expect(msgs).To(HaveLen(3))
		Expect(msgs[1]).To(MatchRegexp(`^Scaled down replica set rec-\w+ from 2 to 0$`))
		Expect(msgs[2]).To(MatchRegexp(`^Scaled up replica set rec-\w+ from 0 to 2$`))
	})

	It("reports a rollout that cannot progress", func() {
		d := deploymentOf(ns, "stuck", "nowhere", "x", 1)
		d.Spec.ProgressDeadlineSeconds = new(int32(1))
		Expect(k8sClient.Create(suiteCtx, d)).To(Succeed())
		Eventually(func(g Gomega) {
			got := &appsv1.Deployment{}
			g.Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(d), got)).To(Succeed())
			g.Expect(got.Status.Conditions).To(ContainElement(And(HaveField("Type", appsv1.DeploymentProgressing),
				HaveField("Status", corev1.ConditionFalse), HaveField("Reason", "ProgressDeadlineExceeded"))))
			g.Expect(got.Status.UnavailableReplicas).To(BeEquivalentTo(1))
		}).Should(Succeed())
	})
})
