package controllers

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/skiffhq/skiff/controllers"
)

func cronJobOf(ns, name string, policy batchv1.ConcurrencyPolicy, exitAfter string) *batchv1.CronJob {
	tmpl := corev1.PodTemplateSpec{
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, NodeSelector: map[string]string{"pool": "cron"},
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	if exitAfter != "" {
		tmpl.Annotations = map[string]string{"sim.skiff.dev/exit-after": exitAfter}
	}
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: batchv1.CronJobSpec{Schedule: "*/1 * * * *", ConcurrencyPolicy: policy,
			SuccessfulJobsHistoryLimit: new(int32(1)),
			JobTemplate:                batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}}},
	}
}

func jobsOf(ns string) []batchv1.Job {
	var list batchv1.JobList
	Expect(k8sClient.List(suiteCtx, &list, client.InNamespace(ns))).To(Succeed())
	return list.Items
}

var _ = Describe("CronJobs on an injected clock", Ordered, func() {
	var (
		ns    string
		clk   *clocktesting.FakeClock
		stopC context.CancelFunc
	)
	BeforeAll(func() {
		startNode("cron-a", "8", map[string]string{"pool": "cron"})
		ns = newNamespace()
		clk = clocktesting.NewFakeClock(time.Now())
		mgr, err := controllers.New(cfg, controllers.Options{Controllers: []string{"cronjob"}, Clock: clk})
		Expect(err).NotTo(HaveOccurred())
		var ctx context.Context
		ctx, stopC = context.WithCancel(suiteCtx)
		go func() {
			defer GinkgoRecover()
			Expect(mgr.Start(ctx)).To(Succeed())
		}()
		DeferCleanup(func() { stopC() })
	})

	// minute moves the fake clock past the next minute boundary.
	minute := func() {
		clk.Step(time.Minute)
	}

	It("starts a Job each minute, records its success, and keeps one finished Job", func() {
		cj := cronJobOf(ns, "tick", batchv1.AllowConcurrent, "100ms")
		Expect(k8sClient.Create(suiteCtx, cj)).To(Succeed())
		Consistently(func() []batchv1.Job { return jobsOf(ns) }).WithTimeout(300 * time.Millisecond).Should(BeEmpty())
		for run := 1; run <= 3; run++ {
			minute()
			Eventually(func(g Gomega) {
				got := &batchv1.CronJob{}
				g.Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(cj), got)).To(Succeed())
				g.Expect(got.Status.LastScheduleTime).NotTo(BeNil())
				g.Expect(got.Status.LastSuccessfulTime).NotTo(BeNil())
				g.Expect(got.Status.Active).To(BeEmpty())
				last := got.Status.LastScheduleTime.Time
				g.Expect(clk.Now().Sub(last)).To(BeNumerically("<", time.Minute))
				jobs := jobsOf(ns)
				g.Expect(jobs).To(HaveLen(1), "successfulJobsHistoryLimit 1")
				g.Expect(jobs[0].Annotations).To(HaveKey(batchv1.CronJobScheduledTimestampAnnotation))
				g.Expect(metav1.IsControlledBy(&jobs[0], got)).To(BeTrue())
			}).Should(Succeed())
			// Let the next tick see the finished Job cleaned up first.
		}
	})

	It("with Forbid skips a run while the previous Job is active; Replace replaces it", func() {
		cj := cronJobOf(ns, "slow", batchv1.ForbidConcurrent, "")
		cj.Spec.JobTemplate.Labels = map[string]string{"cron": "slow"}
		Expect(k8sClient.Create(suiteCtx, cj)).To(Succeed())
		slowJobs := func() []batchv1.Job {
			var list batchv1.JobList
			Expect(k8sClient.List(suiteCtx, &list, client.InNamespace(ns), client.MatchingLabels{"cron": "slow"})).To(Succeed())
			return list.Items
		}
		minute()
		Eventually(slowJobs).Should(HaveLen(1))
		first := slowJobs()[0].Name
		minute()
		Eventually(func(g Gomega) {
			var events corev1.EventList
			g.Expect(k8sClient.List(suiteCtx, &events, client.InNamespace(ns))).To(Succeed())
			g.Expect(events.Items).To(ContainElement(HaveField("Reason", "JobAlreadyActive")))
		}).Should(Succeed())
		Expect(slowJobs()).To(HaveLen(1))

		Eventually(func() error {
			got := &batchv1.CronJob{}
			if err := k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(cj), got); err != nil {
				return err
			}
			got.Spec.ConcurrencyPolicy = batchv1.ReplaceConcurrent
			return k8sClient.Update(suiteCtx, got)
		}).Should(Succeed())
		minute()
		Eventually(func(g Gomega) {
			var names []string
			for _, j := range slowJobs() {
				if j.DeletionTimestamp == nil {
					names = append(names, j.Name)
				}
			}
			g.Expect(names).To(HaveLen(1))
			g.Expect(names[0]).NotTo(Equal(first))
		}).Should(Succeed())
	})

	It("tracks a Job made from it by hand (kubectl create job --from=cronjob/...)", func() {
		// A suspended CronJob of its own: no scheduled run (of "slow", whose
		// Replace policy deletes what is active) can take the Job away.
		cj := cronJobOf(ns, "handmade", batchv1.ForbidConcurrent, "")
		cj.Spec.Suspend = new(true)
		Expect(k8sClient.Create(suiteCtx, cj)).To(Succeed())
		manual := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "manual",
			Annotations:     map[string]string{"cronjob.kubernetes.io/instantiate": "manual"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: cj.Name, UID: cj.UID, Controller: new(true)}}},
			Spec: *cj.Spec.JobTemplate.Spec.DeepCopy()}
		Expect(k8sClient.Create(suiteCtx, manual)).To(Succeed())
		Eventually(func(g Gomega) {
			got := &batchv1.CronJob{}
			g.Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(cj), got)).To(Succeed())
			g.Expect(got.Status.Active).To(ContainElement(HaveField("Name", "manual")))
		}).Should(Succeed())
	})
})
