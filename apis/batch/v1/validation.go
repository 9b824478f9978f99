package v1

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	// CronJob time zones must resolve on machines without a zoneinfo database.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
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
	errs = append(errs, validatePerIndexBackoff(spec, specPath)...)
	if spec.SuccessPolicy != nil {
		errs = append(errs, validateSuccessPolicy(spec, specPath.Child("successPolicy"))...)
	}
	if prp := spec.PodReplacementPolicy; prp != nil {
		switch {
		case spec.PodFailurePolicy != nil && *prp != batchv1.Failed:
			errs = append(errs, field.NotSupported(specPath.Child("podReplacementPolicy"), *prp, []batchv1.PodReplacementPolicy{batchv1.Failed}))
		case *prp != batchv1.Failed && *prp != batchv1.TerminatingOrFailed:
			errs = append(errs, field.NotSupported(specPath.Child("podReplacementPolicy"), *prp, []batchv1.PodReplacementPolicy{batchv1.Failed, batchv1.TerminatingOrFailed}))
		}
	}
	tp := specPath.Child("template")
	errs = append(errs, corev1api.ValidatePodTemplateSpec(&spec.Template, tp)...)
	if spec.PodFailurePolicy != nil {
		errs = append(errs, validatePodFailurePolicy(spec, specPath.Child("podFailurePolicy"))...)
		if rp := spec.Template.Spec.RestartPolicy; rp != corev1.RestartPolicyNever {
			errs = append(errs, field.Invalid(tp.Child("spec", "restartPolicy"), rp, "only \"Never\" is supported when podFailurePolicy is specified"))
		}
	}
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
	errs = append(errs, apivalidation.ValidateImmutableField(j.Spec.SuccessPolicy, old.Spec.SuccessPolicy, spec.Child("successPolicy"))...)
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

// Upstream's bounds on a pod failure policy.
const (
	maxPodFailurePolicyRules             = 20
	maxPodFailurePolicyExitCodeValues    = 255
	maxPodFailurePolicyConditionsPerRule = 20
)

// validatePerIndexBackoff checks backoffLimitPerIndex and maxFailedIndexes,
// which only make sense for an Indexed job.
func validatePerIndexBackoff(spec *batchv1.JobSpec, specPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	indexed := spec.CompletionMode != nil && *spec.CompletionMode == batchv1.IndexedCompletion
	if v := spec.BackoffLimitPerIndex; v != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*v), specPath.Child("backoffLimitPerIndex"))...)
		if !indexed {
			errs = append(errs, field.Invalid(specPath.Child("backoffLimitPerIndex"), *v, "requires indexed completion mode"))
		}
	}
	if v := spec.MaxFailedIndexes; v != nil {
		p := specPath.Child("maxFailedIndexes")
		if spec.BackoffLimitPerIndex == nil {
			errs = append(errs, field.Required(specPath.Child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
		}
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*v), p)...)
		if spec.Completions != nil && *v > *spec.Completions {
			errs = append(errs, field.Invalid(p, *v, "must be less than or equal to completions"))
		}
	}
	return errs
}

var supportedFailurePolicyActions = []batchv1.PodFailurePolicyAction{
	batchv1.PodFailurePolicyActionCount, batchv1.PodFailurePolicyActionFailIndex,
	batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyActionIgnore,
}

// validatePodFailurePolicy checks each rule: a known action, exactly one of
// onExitCodes and onPodConditions, and well-formed requirements.
func validatePodFailurePolicy(spec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	rules := spec.PodFailurePolicy.Rules
	rulesPath := fldPath.Child("rules")
	if len(rules) > maxPodFailurePolicyRules {
		return append(errs, field.TooMany(rulesPath, len(rules), maxPodFailurePolicyRules))
	}
	containers := map[string]bool{}
	for _, c := range spec.Template.Spec.InitContainers {
		containers[c.Name] = true
	}
	for _, c := range spec.Template.Spec.Containers {
		containers[c.Name] = true
	}
	for i, rule := range rules {
		rp := rulesPath.Index(i)
		switch {
		case !slices.Contains(supportedFailurePolicyActions, rule.Action):
			errs = append(errs, field.NotSupported(rp.Child("action"), rule.Action, supportedFailurePolicyActions))
		case rule.Action == batchv1.PodFailurePolicyActionFailIndex && spec.BackoffLimitPerIndex == nil:
			errs = append(errs, field.Invalid(rp.Child("action"), rule.Action, "requires the backoffLimitPerIndex to be set"))
		}
		switch {
		case rule.OnExitCodes != nil && len(rule.OnPodConditions) > 0:
			errs = append(errs, field.Invalid(rp, field.OmitValueType{}, "specifying both OnExitCodes and OnPodConditions is not supported"))
		case rule.OnExitCodes == nil && len(rule.OnPodConditions) == 0:
			errs = append(errs, field.Invalid(rp, field.OmitValueType{}, "specifying one of OnExitCodes and OnPodConditions is required"))
		}
		if r := rule.OnExitCodes; r != nil {
			errs = append(errs, validateOnExitCodes(r, containers, rp.Child("onExitCodes"))...)
		}
		cp := rp.Child("onPodConditions")
		if len(rule.OnPodConditions) > maxPodFailurePolicyConditionsPerRule {
			errs = append(errs, field.TooMany(cp, len(rule.OnPodConditions), maxPodFailurePolicyConditionsPerRule))
			continue
		}
		for j, pattern := range rule.OnPodConditions {
			pp := cp.Index(j)
			errs = append(errs, metav1validation.ValidateLabelName(string(pattern.Type), pp.Child("type"))...)
			switch pattern.Status {
			case corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown:
			default:
				errs = append(errs, field.NotSupported(pp.Child("status"), pattern.Status, []corev1.ConditionStatus{corev1.ConditionFalse, corev1.ConditionTrue, corev1.ConditionUnknown}))
			}
		}
	}
	return errs
}

func validateOnExitCodes(r *batchv1.PodFailurePolicyOnExitCodesRequirement, containers map[string]bool, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if r.ContainerName != nil && !containers[*r.ContainerName] {
		errs = append(errs, field.Invalid(fldPath.Child("containerName"), *r.ContainerName, "must be one of the container or initContainer names in the pod template"))
	}
	switch r.Operator {
	case batchv1.PodFailurePolicyOnExitCodesOpIn, batchv1.PodFailurePolicyOnExitCodesOpNotIn:
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("operator"), r.Operator, []batchv1.PodFailurePolicyOnExitCodesOperator{batchv1.PodFailurePolicyOnExitCodesOpIn, batchv1.PodFailurePolicyOnExitCodesOpNotIn}))
	}
	vp := fldPath.Child("values")
	switch {
	case len(r.Values) == 0:
		return append(errs, field.Invalid(vp, r.Values, "at least one value is required"))
	case len(r.Values) > maxPodFailurePolicyExitCodeValues:
		return append(errs, field.TooMany(vp, len(r.Values), maxPodFailurePolicyExitCodeValues))
	}
	for k, v := range r.Values {
		switch {
		case r.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && v == 0:
			errs = append(errs, field.Invalid(vp.Index(k), v, "must not be 0 for the In operator"))
		case k > 0 && v == r.Values[k-1]:
			errs = append(errs, field.Duplicate(vp.Index(k), v))
		case k > 0 && v < r.Values[k-1]:
			errs = append(errs, field.Invalid(vp.Index(k), v, "must be ordered"))
		}
	}
	return errs
}

// Upstream's bounds on a success policy.
const (
	maxSuccessPolicyRules     = 20
	maxSucceededIndexesLength = 64 * 1024
)

// validateSuccessPolicy checks an Indexed job's success policy: 1-20
// rules, each naming succeeded indexes (an ordered interval list inside
// the completions) or a count, or both.
func validateSuccessPolicy(spec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	rules := spec.SuccessPolicy.Rules
	rulesPath := fldPath.Child("rules")
	if spec.CompletionMode == nil || *spec.CompletionMode != batchv1.IndexedCompletion {
		errs = append(errs, field.Invalid(fldPath, field.OmitValueType{}, "requires indexed completion mode"))
	}
	switch {
	case len(rules) == 0:
		return append(errs, field.Required(rulesPath, "at least one rule must be specified when the successPolicy is specified"))
	case len(rules) > maxSuccessPolicyRules:
		return append(errs, field.TooMany(rulesPath, len(rules), maxSuccessPolicyRules))
	}
	completions := int32(-1)
	if spec.Completions != nil {
		completions = *spec.Completions
	}
	for i, rule := range rules {
		rp := rulesPath.Index(i)
		if rule.SucceededIndexes == nil && rule.SucceededCount == nil {
			errs = append(errs, field.Required(rp, "at least one of succeededCount or succeededIndexes must be specified"))
		}
		indexes := int32(-1)
		if rule.SucceededIndexes != nil {
			ip := rp.Child("succeededIndexes")
			if len(*rule.SucceededIndexes) > maxSucceededIndexesLength {
				errs = append(errs, field.TooLong(ip, "", maxSucceededIndexesLength))
			} else if n, err := countIndexes(*rule.SucceededIndexes, completions); err != nil {
				errs = append(errs, field.Invalid(ip, *rule.SucceededIndexes, fmt.Sprintf("error parsing succeededIndexes: %v", err)))
			} else {
				indexes = n
			}
		}
		if c := rule.SucceededCount; c != nil {
			cp := rp.Child("succeededCount")
			switch {
			case *c < 0:
				errs = append(errs, field.Invalid(cp, *c, "must be greater than or equal to 0"))
			case completions >= 0 && *c > completions:
				errs = append(errs, field.Invalid(cp, *c, fmt.Sprintf("must be less than or equal to %d (the number of specified completions)", completions)))
			case indexes >= 0 && *c > indexes:
				errs = append(errs, field.Invalid(cp, *c, fmt.Sprintf("must be smaller or equal to the number of indexes in succeededIndexes (%d)", indexes)))
			}
		}
	}
	return errs
}

// countIndexes parses an interval list such as "0,2-4" whose intervals
// ascend without overlap and lie below completions (when known), and
// returns how many indexes it names.
func countIndexes(list string, completions int32) (int32, error) {
	var n int32
	last := int64(-1)
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.ParseInt(lo, 10, 32)
		if err != nil || first < 0 {
			return 0, fmt.Errorf("cannot convert %q to a non-negative integer", lo)
		}
		end := first
		if isRange {
			if end, err = strconv.ParseInt(hi, 10, 32); err != nil || end < 0 {
				return 0, fmt.Errorf("cannot convert %q to a non-negative integer", hi)
			}
			if end < first {
				return 0, fmt.Errorf("range %q is not in increasing order", part)
			}
		}
		if first <= last {
			return 0, fmt.Errorf("%q does not come after the previous interval (overlapping or unordered)", part)
		}
		if completions >= 0 && end >= int64(completions) {
			return 0, fmt.Errorf("index %d is out of bounds for %d completions", end, completions)
		}
		n += int32(end - first + 1)
		last = end
	}
	return n, nil
}
