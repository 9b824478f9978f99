package controllers

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func jobOf(ns, name string, completions, parallelism int32, exitAfter, exitCode string) *batchv1.Job {
	ann := map[string]string{"sim.skiff.dev/exit-after": exitAfter}
	if exitCode != "" {
		ann["sim.skiff.dev/exit-code"] = exitCode
	}
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: batchv1.JobSpec{Completions: &completions, Parallelism: &parallelism,
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Annotations: ann},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, NodeSelector: map[string]string{"pool": "job"},
					Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}},
	}
}

func jobCondition(ns, name string, t batchv1.JobConditionType) func(Gomega) *batchv1.Job {
	return func(g Gomega) *batchv1.Job {
		got := &batchv1.Job{}
		g.Expect(k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: name}, got)).To(Succeed())
		g.Expect(got.Status.Conditions).To(ContainElement(And(HaveField("Type", t), HaveField("Status", corev1.ConditionTrue))))
		return got
	}
}

var _ = Describe("Jobs", Ordered, func() {
	var ns string
	BeforeAll(func() {
		startNode("job-a", "8", map[string]string{"pool": "job"})
		ns = newNamespace()
	})

	It("runs completions with bounded parallelism and counts each pod once", func() {
		Expect(k8sClient.Create(suiteCtx, jobOf(ns, "five", 5, 2, "200ms", ""))).To(Succeed())
		var peak int32
		Eventually(func(g Gomega) {
			got := &batchv1.Job{}
			g.Expect(k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "five"}, got)).To(Succeed())
			peak = max(peak, got.Status.Active)
			jobCondition(ns, "five", batchv1.JobComplete)(g)
		}).Should(Succeed())
		got := jobCondition(ns, "five", batchv1.JobComplete)(Default)
		Expect(got.Status.Succeeded).To(BeEquivalentTo(5))
		Expect(got.Status.Failed).To(BeEquivalentTo(0))
		Expect(got.Status.CompletionTime).NotTo(BeNil())
		Expect(peak).To(BeNumerically("<=", 2))
		Expect(got.Status.Conditions).To(ContainElement(HaveField("Type", batchv1.JobSuccessCriteriaMet)))
		for _, p := range podsOf(ns, map[string]string{batchv1.JobNameLabel: "five"}) {
			Expect(p.Finalizers).NotTo(ContainElement(batchv1.JobTrackingFinalizer))
		}
		Expect(podsOf(ns, map[string]string{batchv1.JobNameLabel: "five"})).To(HaveLen(5))
	})

	It("runs each index of an Indexed Job once, with its index", func() {
		j := jobOf(ns, "idx", 3, 3, "100ms", "")
		j.Spec.CompletionMode = new(batchv1.IndexedCompletion)
		Expect(k8sClient.Create(suiteCtx, j)).To(Succeed())
		Eventually(func(g Gomega) {
			got := jobCondition(ns, "idx", batchv1.JobComplete)(g)
			g.Expect(got.Status.CompletedIndexes).To(Equal("0-2"))
		}).Should(Succeed())
		hosts := map[string]bool{}
		for _, p := range podsOf(ns, map[string]string{batchv1.JobNameLabel: "idx"}) {
			Expect(p.Labels).To(HaveKey(batchv1.JobCompletionIndexAnnotation))
			Expect(p.Spec.Containers[0].Env).To(ContainElement(HaveField("Name", "JOB_COMPLETION_INDEX")))
			hosts[p.Spec.Hostname] = true
		}
		Expect(hosts).To(Equal(map[string]bool{"idx-0": true, "idx-1": true, "idx-2": true}))
	})

	It("succeeds an Indexed Job by its success policy, ending the other pods", func() {
		j := jobOf(ns, "leader", 3, 3, "", "")
		j.Spec.CompletionMode = new(batchv1.IndexedCompletion)
		// Only index 0 finishes; the success policy needs only it.
		j.Spec.Template.Annotations = nil
		j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededIndexes: new("0")}}}
		Expect(k8sClient.Create(suiteCtx, j)).To(Succeed())
		Eventually(func() int { return len(podsOf(ns, map[string]string{batchv1.JobNameLabel: "leader"})) }).Should(Equal(3))
		for _, p := range podsOf(ns, map[string]string{batchv1.JobNameLabel: "leader"}) {
			if p.Labels[batchv1.JobCompletionIndexAnnotation] != "0" {
				continue
			}
			// Play the leader finishing its work.
			p.Status.Phase = corev1.PodSucceeded
			Expect(k8sClient.Status().Update(suiteCtx, &p)).To(Succeed())
		}
		Eventually(func(g Gomega) {
			got := jobCondition(ns, "leader", batchv1.JobComplete)(g)
			g.Expect(got.Status.Conditions).To(ContainElement(And(HaveField("Type", batchv1.JobSuccessCriteriaMet),
				HaveField("Reason", batchv1.JobReasonSuccessPolicy), HaveField("Message", "Matched rules at index 0"))))
			// The other pods are stopped; a simulated container exits 0 on
			// SIGTERM, so their indexes may count as completed too.
			g.Expect(got.Status.CompletedIndexes).To(HavePrefix("0"))
			g.Expect(got.Status.Active).To(BeEquivalentTo(0))
		}).Should(Succeed())
	})

	It("fails when the backoff limit is reached, and when a pod failure policy says so", func() {
		j := jobOf(ns, "bad", 1, 1, "100ms", "3")
		j.Spec.BackoffLimit = new(int32(0))
		Expect(k8sClient.Create(suiteCtx, j)).To(Succeed())
		Eventually(func(g Gomega) {
			got := jobCondition(ns, "bad", batchv1.JobFailed)(g)
			g.Expect(got.Status.Failed).To(BeEquivalentTo(1))
			g.Expect(got.Status.Conditions).To(ContainElement(HaveField("Reason", batchv1.JobReasonBackoffLimitExceeded)))
		}).Should(Succeed())

		p := jobOf(ns, "policy", 1, 1, "100ms", "42")
		p.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
			Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
				Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}}}}
		Expect(k8sClient.Create(suiteCtx, p)).To(Succeed())
		Eventually(func(g Gomega) {
			got := jobCondition(ns, "policy", batchv1.JobFailed)(g)
			g.Expect(got.Status.Conditions).To(ContainElement(And(HaveField("Reason", batchv1.JobReasonPodFailurePolicy),
				HaveField("Message", MatchRegexp(`^Container c for pod .* failed with exit code 42 matching FailJob rule at index 0$`)))))
		}).Should(Succeed())
	})

	It("fails indexes past backoffLimitPerIndex, retrying each on its own, and the Job with them", func() {
		// finish plays the pod of an index ending, with exit code code.
		finish := func(job, index string, code int32) {
			Eventually(func(g Gomega) {
				var found bool
				for _, p := range podsOf(ns, map[string]string{batchv1.JobNameLabel: job, batchv1.JobCompletionIndexAnnotation: index}) {
					if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || p.DeletionTimestamp != nil {
						continue
					}
					found = true
					p.Status.Phase = corev1.PodFailed
					if code == 0 {
						p.Status.Phase = corev1.PodSucceeded
					}
					p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
						ExitCode: code, FinishedAt: metav1.Now()}}}}
					g.Expect(k8sClient.Status().Update(suiteCtx, &p)).To(Succeed())
				}
				g.Expect(found).To(BeTrue(), "a running pod of index %s", index)
			}).Should(Succeed())
		}
		perIndex := func(name string, completions, limit int32) *batchv1.Job {
			j := jobOf(ns, name, completions, completions, "", "")
			j.Spec.Template.Annotations = nil // the pods run until the test ends them
			j.Spec.CompletionMode = new(batchv1.IndexedCompletion)
			j.Spec.BackoffLimitPerIndex = &limit
			return j
		}

		// No retries: index 1 fails, 0 and 2 succeed; the Job fails for
		// its failed index, and index 1 is not run again.
		Expect(k8sClient.Create(suiteCtx, perIndex("perindex", 3, 0))).To(Succeed())
		Eventually(func() int { return len(podsOf(ns, map[string]string{batchv1.JobNameLabel: "perindex"})) }).Should(Equal(3))
		finish("perindex", "1", 1)
		finish("perindex", "0", 0)
		finish("perindex", "2", 0)
		Eventually(func(g Gomega) {
			got := jobCondition(ns, "perindex", batchv1.JobFailed)(g)
			g.Expect(got.Status.Conditions).To(ContainElement(And(HaveField("Type", batchv1.JobFailed),
				HaveField("Reason", batchv1.JobReasonFailedIndexes), HaveField("Message", "Job has failed indexes"))))
			g.Expect(got.Status.FailedIndexes).To(HaveValue(Equal("1")))
			g.Expect(got.Status.CompletedIndexes).To(Equal("0,2"))
			g.Expect(got.Status.Failed).To(BeEquivalentTo(1))
			g.Expect(*got.Spec.BackoffLimit).To(BeEquivalentTo(int32(2147483647)), "backoffLimit defaults to the maximum with a per-index limit")
		}).Should(Succeed())
		Expect(podsOf(ns, map[string]string{batchv1.JobNameLabel: "perindex"})).To(HaveLen(3))

		// One retry: index 0's second pod carries its failure count; its
		// second failure fails the index, which maxFailedIndexes 0 does
		// not allow: the Job fails and index 1's pod is stopped.
		j := perIndex("retry", 2, 1)
		j.Spec.MaxFailedIndexes = new(int32(0))
		Expect(k8sClient.Create(suiteCtx, j)).To(Succeed())
		Eventually(func() int { return len(podsOf(ns, map[string]string{batchv1.JobNameLabel: "retry"})) }).Should(Equal(2))
		finish("retry", "0", 1)
		// The replacement comes after the index's back-off (10 s).
		Eventually(func(g Gomega) {
			var counts []string
			for _, p := range podsOf(ns, map[string]string{batchv1.JobNameLabel: "retry", batchv1.JobCompletionIndexAnnotation: "0"}) {
				counts = append(counts, p.Annotations[batchv1.JobIndexFailureCountAnnotation])
			}
			g.Expect(counts).To(ConsistOf("0", "1"))
		}).WithTimeout(30 * time.Second).Should(Succeed())
		got := &batchv1.Job{}
		Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(j), got)).To(Succeed())
		Expect(got.Status.FailedIndexes).To(HaveValue(Equal("")))
		finish("retry", "0", 1)
		Eventually(func(g Gomega) {
			got := jobCondition(ns, "retry", batchv1.JobFailed)(g)
			g.Expect(got.Status.Conditions).To(ContainElement(And(HaveField("Type", batchv1.JobFailed),
				HaveField("Reason", batchv1.JobReasonMaxFailedIndexesExceeded))))
			g.Expect(got.Status.FailedIndexes).To(HaveValue(Equal("0")))
			g.Expect(got.Status.Active).To(BeEquivalentTo(0))
		}).Should(Succeed())
	})

	It("runs nothing while suspended, and resumes", func() {
		j := jobOf(ns, "later", 1, 1, "100ms", "")
		j.Spec.Suspend = new(true)
		Expect(k8sClient.Create(suiteCtx, j)).To(Succeed())
		Eventually(jobCondition(ns, "later", batchv1.JobSuspended)).Should(Not(BeNil()))
		Expect(podsOf(ns, map[string]string{batchv1.JobNameLabel: "later"})).To(BeEmpty())
		Eventually(func() error {
			got := &batchv1.Job{}
			if err := k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(j), got); err != nil {
				return err
			}
			got.Spec.Suspend = new(false)
			return k8sClient.Update(suiteCtx, got)
		}).Should(Succeed())
		Eventually(jobCondition(ns, "later", batchv1.JobComplete)).Should(Not(BeNil()))
	})
})
