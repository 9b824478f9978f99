package v1

import (
	"fmt"
	"strings"
	"time"
	// CronJob time zones must resolve on machines without a zoneinfo database.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	appsv1api "github.com/skiffhq/skiff/apis/apps/v1"
	corev1api "github.com/skiffhq/skiff/apis/core/v1"
)

// maxCronJobNameLength leaves room for the 11-character suffix of the
// jobs a CronJob creates.
const maxCronJobNameLength = 52

// ValidateJob checks a job.
func ValidateJob(j *batchv1.Job) field.ErrorList {
	return validateJobSpec(&j.Spec, field.NewPath("spec"), true)
}

func validateJobSpec(spec *batchv1.JobSpec, specPath *field.Path, checkSelector bool) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct {
		name string
		v    *int32
	}{{"parallelism", spec.Parallelism}, {"completions", spec.Completions}, {"backoffLimit", spec.BackoffLimit}, {"ttlSecondsAfterFinished", spec.TTLSecondsAfterFinished}} {
		if f.v != nil {
			errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*f.v), specPath.Child(f.name))...)
		}
	}
	if spec.ActiveDeadlineSeconds != nil && *spec.ActiveDeadlineSeconds <= 0 {
		errs = append(errs, field.Invalid(specPath.Child("activeDeadlineSeconds"), *spec.ActiveDeadlineSeconds, "must be greater than 0"))
	}
	if checkSelector {
		errs = append(errs, appsv1api.ValidateSelectorTemplate(spec.Selector, &spec.Template, specPath)...)
	}
	if spec.CompletionMode != nil {
		switch *spec.CompletionMode {
		case batchv1.NonIndexedCompletion:
		case batchv1.IndexedCompletion:
			if spec.Completions == nil {
				errs = append(errs, field.Required(specPath.Child("completions"), fmt.Sprintf("when completion mode is %s", batchv1.IndexedCompletion)))
			}
		default:
			errs = append(errs, field.NotSupported(specPath.Child("completionMode"), *spec.CompletionMode, []batchv1.CompletionMode{batchv1.NonIndexedCompletion, batchv1.IndexedCompletion}))
		}
	}
	tp := specPath.Child("template")
	errs = append(errs, corev1api.ValidatePodTemplateSpec(&spec.Template, tp)...)
	if rp := spec.Template.Spec.RestartPolicy; rp != corev1.RestartPolicyOnFailure && rp != corev1.RestartPolicyNever {
		errs = append(errs, field.NotSupported(tp.Child("spec", "restartPolicy"), rp, []corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}))
	}
	return errs
}

// ValidateJobUpdate keeps what upstream keeps immutable.
func ValidateJobUpdate(j, old *batchv1.Job) field.ErrorList {
	errs := ValidateJob(j)
	spec := field.NewPath("spec")
	errs = append(errs, apivalidation.ValidateImmutableField(j.Spec.Selector, old.Spec.Selector, spec.Child("selector"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(j.Spec.CompletionMode, old.Spec.CompletionMode, spec.Child("completionMode"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(j.Spec.PodFailurePolicy, old.Spec.PodFailurePolicy, spec.Child("podFailurePolicy"))...)
	elastic := j.Spec.CompletionMode != nil && *j.Spec.CompletionMode == batchv1.IndexedCompletion &&
		j.Spec.Completions != nil && j.Spec.Parallelism != nil && *j.Spec.Completions == *j.Spec.Parallelism
	if !elastic {
		errs = append(errs, apivalidation.ValidateImmutableField(j.Spec.Completions, old.Spec.Completions, spec.Child("completions"))...)
	}
	// A suspended job that never started may change its pod template's
	// scheduling directives; otherwise the template is immutable.
	suspended := j.Spec.Suspend != nil && *j.Spec.Suspend && old.Status.StartTime == nil
	if !suspended && !apiequality.Semantic.DeepEqual(j.Spec.Template, old.Spec.Template) {
		errs = append(errs, field.Invalid(spec.Child("template"), j.Spec.Template, "field is immutable"))
	}
	return errs
}

// ValidateCronJob checks a cron job.
func ValidateCronJob(cj *batchv1.CronJob) field.ErrorList {
	var errs field.ErrorList
	if len(cj.Name) > maxCronJobNameLength {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), cj.Name, fmt.Sprintf("must be no more than %d characters", maxCronJobNameLength)))
	}
	spec := field.NewPath("spec")
	errs = append(errs, validateSchedule(cj.Spec.Schedule, cj.Spec.TimeZone, spec)...)
	switch cj.Spec.ConcurrencyPolicy {
	case batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent:
	case "":
		errs = append(errs, field.Required(spec.Child("concurrencyPolicy"), ""))
	default:
		errs = append(errs, field.NotSupported(spec.Child("concurrencyPolicy"), cj.Spec.ConcurrencyPolicy, []batchv1.ConcurrencyPolicy{batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent}))
	}
	if cj.Spec.StartingDeadlineSeconds != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(*cj.Spec.StartingDeadlineSeconds, spec.Child("startingDeadlineSeconds"))...)
	}
	for _, f := range []struct {
		name string
		v    *int32
	}{{"successfulJobsHistoryLimit", cj.Spec.SuccessfulJobsHistoryLimit}, {"failedJobsHistoryLimit", cj.Spec.FailedJobsHistoryLimit}} {
		if f.v != nil {
			errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*f.v), spec.Child(f.name))...)
		}
	}
	jt := &cj.Spec.JobTemplate.Spec
	errs = append(errs, validateJobSpec(jt, spec.Child("jobTemplate", "spec"), jt.ManualSelector != nil && *jt.ManualSelector)...)
	return errs
}

func validateSchedule(schedule string, timeZone *string, spec *field.Path) field.ErrorList {
	var errs field.ErrorList
	if schedule == "" {
		return append(errs, field.Required(spec.Child("schedule"), ""))
	}
	if strings.Contains(schedule, "TZ") {
		errs = append(errs, field.Invalid(spec.Child("schedule"), schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
	} else if _, err := cron.ParseStandard(schedule); err != nil {
		errs = append(errs, field.Invalid(spec.Child("schedule"), schedule, err.Error()))
	}
	if timeZone != nil {
		if *timeZone == "" || strings.EqualFold(*timeZone, "local") {
			errs = append(errs, field.Invalid(spec.Child("timeZone"), *timeZone, "unknown time zone "+*timeZone))
		} else if _, err := time.LoadLocation(*timeZone); err != nil {
			errs = append(errs, field.Invalid(spec.Child("timeZone"), *timeZone, err.Error()))
		}
	}
	return errs
}
