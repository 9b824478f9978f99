package v1

import (
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func job() *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", UID: "uid-1"}, Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}
	SetDefaultsJob(j)
	GenerateSelector(j, j.UID)
	return j
}

func TestJobDefaultsAndSelector(t *testing.T) {
	j := job()
	if *j.Spec.Completions != 1 || *j.Spec.Parallelism != 1 || *j.Spec.BackoffLimit != 6 || *j.Spec.Suspend {
		t.Errorf("defaults: %+v", j.Spec)
	}
	if j.Spec.Selector.MatchLabels[LabelControllerUID] != "uid-1" || j.Spec.Template.Labels[LabelJobName] != "j" {
		t.Errorf("selector %v labels %v", j.Spec.Selector, j.Spec.Template.Labels)
	}
	if errs := ValidateJob(j); len(errs) > 0 {
		t.Errorf("a defaulted job is invalid: %v", errs)
	}
}

func TestValidateJobUpdate(t *testing.T) {
	old := job()
	changed := old.DeepCopy()
	changed.Spec.Template.Spec.Containers[0].Image = "other"
	if errs := ValidateJobUpdate(changed, old); !strings.Contains(errs.ToAggregate().Error(), "spec.template: Invalid value") {
		t.Errorf("changing the template of a running job: %v", errs)
	}
	suspended := old.DeepCopy()
	yes := true
	suspended.Spec.Suspend = &yes
	suspended.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "a"}
	if errs := ValidateJobUpdate(suspended, old); len(errs) > 0 {
		t.Errorf("changing the template of a suspended job that never started: %v", errs)
	}
}

func TestValidateCronJob(t *testing.T) {
	cj := func(schedule string, tz *string) *batchv1.CronJob {
		c := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Spec: batchv1.CronJobSpec{Schedule: schedule, TimeZone: tz,
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyOnFailure, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}}}
		SetDefaultsCronJob(c)
		return c
	}
	berlin, bogus := "Europe/Berlin", "Mars/Olympus"
	cases := []struct {
		c    *batchv1.CronJob
		want string
	}{
		{cj("*/5 * * * *", nil), ""},
		{cj("@hourly", &berlin), ""},
		{cj("61 * * * *", nil), "spec.schedule: Invalid value"},
		{cj("TZ=UTC * * * * *", nil), "cannot use TZ or CRON_TZ in schedule"},
		{cj("* * * * *", &bogus), "spec.timeZone: Invalid value"},
	}
	for _, tc := range cases {
		errs := ValidateCronJob(tc.c)
		if tc.want == "" && len(errs) > 0 {
			t.Errorf("%s: %v", tc.c.Spec.Schedule, errs)
		}
		if tc.want != "" && !strings.Contains(errs.ToAggregate().Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.c.Spec.Schedule, errs, tc.want)
		}
	}
	long := cj("* * * * *", nil)
	long.Name = strings.Repeat("a", 53)
	if errs := ValidateCronJob(long); !strings.Contains(errs.ToAggregate().Error(), "must be no more than 52 characters") {
		t.Errorf("long name: %v", errs)
	}
}
