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

func TestValidateJobFailurePolicy(t *testing.T) {
	i32 := func(v int32) *int32 { return &v }
	exit := func(op batchv1.PodFailurePolicyOnExitCodesOperator, values ...int32) batchv1.PodFailurePolicyRule {
		return batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: op, Values: values}}
	}
	withPolicy := func(mutate func(*batchv1.JobSpec), rules ...batchv1.PodFailurePolicyRule) *batchv1.Job {
		j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", UID: "uid-1"}, Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}
		if rules != nil {
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: rules}
		}
		if mutate != nil {
			mutate(&j.Spec)
		}
		SetDefaultsJob(j)
		GenerateSelector(j, j.UID)
		return j
	}
	indexed := func(s *batchv1.JobSpec) {
		mode := batchv1.IndexedCompletion
		s.CompletionMode, s.Completions, s.BackoffLimitPerIndex = &mode, i32(3), i32(1)
	}
	cases := []struct {
		name string
		job  *batchv1.Job
		want string // "" means valid
	}{
		{"valid exit codes and conditions", withPolicy(nil, exit(batchv1.PodFailurePolicyOnExitCodesOpIn, 1, 2, 42),
			batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}}}), ""},
		{"restart policy OnFailure", withPolicy(func(s *batchv1.JobSpec) { s.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure }, exit(batchv1.PodFailurePolicyOnExitCodesOpIn, 1)),
			`spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified`},
		{"zero with In", withPolicy(nil, exit(batchv1.PodFailurePolicyOnExitCodesOpIn, 0, 1)), "spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator"},
		{"zero with NotIn", withPolicy(nil, exit(batchv1.PodFailurePolicyOnExitCodesOpNotIn, 0)), ""},
		{"unordered values", withPolicy(nil, exit(batchv1.PodFailurePolicyOnExitCodesOpIn, 5, 3)), "spec.podFailurePolicy.rules[0].onExitCodes.values[1]: Invalid value: 3: must be ordered"},
		{"duplicate values", withPolicy(nil, exit(batchv1.PodFailurePolicyOnExitCodesOpIn, 3, 3)), "spec.podFailurePolicy.rules[0].onExitCodes.values[1]: Duplicate value: 3"},
		{"no values", withPolicy(nil, exit(batchv1.PodFailurePolicyOnExitCodesOpIn)), "spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: null: at least one value is required"},
		{"bad operator", withPolicy(nil, exit("Equals", 1)), `spec.podFailurePolicy.rules[0].onExitCodes.operator: Unsupported value: "Equals"`},
		{"unknown container", withPolicy(nil, batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionCount, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
			ContainerName: ptr("sidecar"), Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{1}}}),
			`spec.podFailurePolicy.rules[0].onExitCodes.containerName: Invalid value: "sidecar": must be one of the container or initContainer names in the pod template`},
		{"neither requirement", withPolicy(nil, batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionFailJob}),
			"spec.podFailurePolicy.rules[0]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required"},
		{"both requirements", withPolicy(nil, batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionFailJob,
			OnExitCodes:     &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{1}},
			OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}}}),
			"spec.podFailurePolicy.rules[0]: Invalid value: specifying both OnExitCodes and OnPodConditions is not supported"},
		{"bad action", withPolicy(nil, batchv1.PodFailurePolicyRule{Action: "Retry", OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}}}),
			`spec.podFailurePolicy.rules[0].action: Unsupported value: "Retry"`},
		{"bad condition status", withPolicy(nil, batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: "Maybe"}}}),
			`spec.podFailurePolicy.rules[0].onPodConditions[0].status: Unsupported value: "Maybe"`},
		{"FailIndex without per-index backoff", withPolicy(nil, batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionFailIndex, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{1}}}),
			`spec.podFailurePolicy.rules[0].action: Invalid value: "FailIndex": requires the backoffLimitPerIndex to be set`},
		{"FailIndex with per-index backoff", withPolicy(indexed, batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionFailIndex, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{1}}}), ""},
		{"replacement policy with failure policy", withPolicy(func(s *batchv1.JobSpec) { s.PodReplacementPolicy = ptr(batchv1.TerminatingOrFailed) }, exit(batchv1.PodFailurePolicyOnExitCodesOpIn, 1)),
			`spec.podReplacementPolicy: Unsupported value: "TerminatingOrFailed": supported values: "Failed"`},
		{"per-index backoff without indexed mode", withPolicy(func(s *batchv1.JobSpec) { s.BackoffLimitPerIndex = i32(1) }), "spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode"},
		{"maxFailedIndexes without per-index backoff", withPolicy(func(s *batchv1.JobSpec) { s.MaxFailedIndexes = i32(1) }), "spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified"},
		{"success policy valid", withPolicy(func(s *batchv1.JobSpec) {
			indexed(s)
			s.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededIndexes: ptr("0,1-2"), SucceededCount: i32(2)}, {SucceededCount: i32(1)}}}
		}), ""},
		{"success policy not indexed", withPolicy(func(s *batchv1.JobSpec) {
			s.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: i32(1)}}}
		}), "spec.successPolicy: Invalid value: requires indexed completion mode"},
		{"success policy without rules", withPolicy(func(s *batchv1.JobSpec) { indexed(s); s.SuccessPolicy = &batchv1.SuccessPolicy{} }),
			"spec.successPolicy.rules: Required value"},
		{"empty success rule", withPolicy(func(s *batchv1.JobSpec) {
			indexed(s)
			s.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{}}}
		}), "spec.successPolicy.rules[0]: Required value: at least one of succeededCount or succeededIndexes must be specified"},
		{"index out of range", withPolicy(func(s *batchv1.JobSpec) {
			indexed(s)
			s.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededIndexes: ptr("1-3")}}}
		}), `spec.successPolicy.rules[0].succeededIndexes: Invalid value: "1-3": error parsing succeededIndexes: index 3 is out of bounds for 3 completions`},
		{"unordered indexes", withPolicy(func(s *batchv1.JobSpec) {
			indexed(s)
			s.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededIndexes: ptr("2,0")}}}
		}), "spec.successPolicy.rules[0].succeededIndexes: Invalid value"},
		{"count above indexes", withPolicy(func(s *batchv1.JobSpec) {
			indexed(s)
			s.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededIndexes: ptr("0"), SucceededCount: i32(2)}}}
		}), "spec.successPolicy.rules[0].succeededCount: Invalid value: 2: must be smaller or equal to the number of indexes in succeededIndexes (1)"},
		{"count above completions", withPolicy(func(s *batchv1.JobSpec) {
			indexed(s)
			s.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: i32(4)}}}
		}), "spec.successPolicy.rules[0].succeededCount: Invalid value: 4: must be less than or equal to 3 (the number of specified completions)"},
		{"maxFailedIndexes above completions", withPolicy(func(s *batchv1.JobSpec) { indexed(s); s.MaxFailedIndexes = i32(4) }), "spec.maxFailedIndexes: Invalid value: 4: must be less than or equal to completions"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := ValidateJob(tc.job)
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			if got := errs.ToAggregate(); got == nil || !strings.Contains(got.Error(), tc.want) {
				t.Fatalf("errors %v do not contain %q", got, tc.want)
			}
		})
	}
}
