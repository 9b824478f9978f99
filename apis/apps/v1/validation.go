package v1

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1api "github.com/skiffhq/skiff/apis/core/v1"
)

// ValidateSelectorTemplate checks a workload's selector and that it
// selects the pods of its template, with upstream's messages.
func ValidateSelectorTemplate(selector *metav1.LabelSelector, template *corev1.PodTemplateSpec, specPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	selPath := specPath.Child("selector")
	if selector == nil {
		return append(errs, field.Required(selPath, ""))
	}
	errs = append(errs, metav1validation.ValidateLabelSelector(selector, metav1validation.LabelSelectorValidationOptions{}, selPath)...)
	if len(selector.MatchLabels)+len(selector.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(selPath, selector, "empty selector is invalid for deployment"))
	}
	sel, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		return errs
	}
	if !sel.Empty() && !sel.Matches(labels.Set(template.Labels)) {
		errs = append(errs, field.Invalid(specPath.Child("template", "metadata", "labels"), template.Labels, "`selector` does not match template `labels`"))
	}
	return errs
}

func validateReplicas(replicas *int32, fldPath *field.Path) field.ErrorList {
	if replicas != nil && *replicas < 0 {
		return field.ErrorList{field.Invalid(fldPath, *replicas, "must be greater than or equal to 0")}
	}
	return nil
}

func validateRestartAlways(t *corev1.PodTemplateSpec, fldPath *field.Path) field.ErrorList {
	if t.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		return field.ErrorList{field.NotSupported(fldPath.Child("spec", "restartPolicy"), t.Spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyAlways})}
	}
	return nil
}

func validateNonNegative(v int32, fldPath *field.Path) field.ErrorList {
	return apivalidation.ValidateNonnegativeField(int64(v), fldPath)
}

// validateIntOrPercent checks a maxSurge/maxUnavailable value.
func validateIntOrPercent(v *intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	var errs field.ErrorList
	switch v.Type {
	case intstr.String:
		for _, msg := range validation.IsValidPercent(v.StrVal) {
			errs = append(errs, field.Invalid(fldPath, v, msg))
		}
		if pct, ok := percent(v); ok && pct > 100 {
			errs = append(errs, field.Invalid(fldPath, v, "must not be greater than 100%"))
		}
	case intstr.Int:
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(v.IntValue()), fldPath)...)
	}
	return errs
}

func percent(v *intstr.IntOrString) (int, bool) {
	var p int
	if _, err := fmt.Sscanf(v.StrVal, "%d%%", &p); err != nil {
		return 0, false
	}
	return p, true
}

func isZero(v *intstr.IntOrString) bool {
	if v == nil {
		return true
	}
	if v.Type == intstr.Int {
		return v.IntVal == 0
	}
	p, ok := percent(v)
	return ok && p == 0
}

// ValidateDeployment checks a deployment.
func ValidateDeployment(d *appsv1.Deployment) field.ErrorList {
	spec := field.NewPath("spec")
	errs := validateReplicas(d.Spec.Replicas, spec.Child("replicas"))
	errs = append(errs, ValidateSelectorTemplate(d.Spec.Selector, &d.Spec.Template, spec)...)
	errs = append(errs, corev1api.ValidatePodTemplateSpec(&d.Spec.Template, spec.Child("template"))...)
	errs = append(errs, validateRestartAlways(&d.Spec.Template, spec.Child("template"))...)
	s := d.Spec.Strategy
	sp := spec.Child("strategy")
	switch s.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			errs = append(errs, field.Forbidden(sp.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"))
		}
	case appsv1.RollingUpdateDeploymentStrategyType:
		if s.RollingUpdate == nil {
			errs = append(errs, field.Required(sp.Child("rollingUpdate"), "this should be defaulted and never be nil"))
			break
		}
		rp := sp.Child("rollingUpdate")
		errs = append(errs, validateIntOrPercent(s.RollingUpdate.MaxUnavailable, rp.Child("maxUnavailable"))...)
		errs = append(errs, validateIntOrPercent(s.RollingUpdate.MaxSurge, rp.Child("maxSurge"))...)
		if isZero(s.RollingUpdate.MaxUnavailable) && isZero(s.RollingUpdate.MaxSurge) {
			errs = append(errs, field.Invalid(rp.Child("maxUnavailable"), s.RollingUpdate.MaxUnavailable, "may not be 0 when `maxSurge` is 0"))
		}
	default:
		errs = append(errs, field.NotSupported(sp.Child("type"), s.Type, []appsv1.DeploymentStrategyType{appsv1.RecreateDeploymentStrategyType, appsv1.RollingUpdateDeploymentStrategyType}))
	}
	errs = append(errs, validateNonNegative(d.Spec.MinReadySeconds, spec.Child("minReadySeconds"))...)
	if d.Spec.RevisionHistoryLimit != nil {
		errs = append(errs, validateNonNegative(*d.Spec.RevisionHistoryLimit, spec.Child("revisionHistoryLimit"))...)
	}
	if d.Spec.ProgressDeadlineSeconds != nil {
		errs = append(errs, validateNonNegative(*d.Spec.ProgressDeadlineSeconds, spec.Child("progressDeadlineSeconds"))...)
		if *d.Spec.ProgressDeadlineSeconds <= d.Spec.MinReadySeconds {
			errs = append(errs, field.Invalid(spec.Child("progressDeadlineSeconds"), *d.Spec.ProgressDeadlineSeconds, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

// ValidateDeploymentUpdate also keeps the selector immutable.
func ValidateDeploymentUpdate(d, old *appsv1.Deployment) field.ErrorList {
	errs := ValidateDeployment(d)
	errs = append(errs, validateSelectorImmutable(d.Spec.Selector, old.Spec.Selector)...)
	return errs
}

func validateSelectorImmutable(sel, old *metav1.LabelSelector) field.ErrorList {
	return apivalidation.ValidateImmutableField(sel, old, field.NewPath("spec", "selector"))
}

// ValidateReplicaSet checks a replica set.
func ValidateReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	spec := field.NewPath("spec")
	errs := validateReplicas(rs.Spec.Replicas, spec.Child("replicas"))
	errs = append(errs, ValidateSelectorTemplate(rs.Spec.Selector, &rs.Spec.Template, spec)...)
	errs = append(errs, corev1api.ValidatePodTemplateSpec(&rs.Spec.Template, spec.Child("template"))...)
	errs = append(errs, validateRestartAlways(&rs.Spec.Template, spec.Child("template"))...)
	errs = append(errs, validateNonNegative(rs.Spec.MinReadySeconds, spec.Child("minReadySeconds"))...)
	return errs
}

// ValidateReplicaSetUpdate also keeps the selector immutable.
func ValidateReplicaSetUpdate(rs, old *appsv1.ReplicaSet) field.ErrorList {
	return append(ValidateReplicaSet(rs), validateSelectorImmutable(rs.Spec.Selector, old.Spec.Selector)...)
}

// ValidateStatefulSet checks a stateful set.
func ValidateStatefulSet(ss *appsv1.StatefulSet) field.ErrorList {
	spec := field.NewPath("spec")
	errs := validateReplicas(ss.Spec.Replicas, spec.Child("replicas"))
	errs = append(errs, ValidateSelectorTemplate(ss.Spec.Selector, &ss.Spec.Template, spec)...)
	errs = append(errs, corev1api.ValidatePodTemplateSpec(&ss.Spec.Template, spec.Child("template"))...)
	errs = append(errs, validateRestartAlways(&ss.Spec.Template, spec.Child("template"))...)
	switch ss.Spec.PodManagementPolicy {
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		errs = append(errs, field.NotSupported(spec.Child("podManagementPolicy"), ss.Spec.PodManagementPolicy, []appsv1.PodManagementPolicyType{appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement}))
	}
	us := spec.Child("updateStrategy")
	switch ss.Spec.UpdateStrategy.Type {
	case appsv1.OnDeleteStatefulSetStrategyType:
		if ss.Spec.UpdateStrategy.RollingUpdate != nil {
			errs = append(errs, field.Invalid(us.Child("rollingUpdate"), ss.Spec.UpdateStrategy.RollingUpdate, fmt.Sprintf("only allowed for updateStrategy '%s'", appsv1.RollingUpdateStatefulSetStrategyType)))
		}
	case appsv1.RollingUpdateStatefulSetStrategyType:
		if ru := ss.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
			errs = append(errs, validateNonNegative(*ru.Partition, us.Child("rollingUpdate", "partition"))...)
		}
	default:
		errs = append(errs, field.Invalid(us, ss.Spec.UpdateStrategy, fmt.Sprintf("must be '%s' or '%s'", appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType)))
	}
	if ss.Spec.ServiceName != "" {
		for _, msg := range validation.IsDNS1123Label(ss.Spec.ServiceName) {
			errs = append(errs, field.Invalid(spec.Child("serviceName"), ss.Spec.ServiceName, msg))
		}
	}
	for i := range ss.Spec.VolumeClaimTemplates {
		t := &ss.Spec.VolumeClaimTemplates[i]
		tp := spec.Child("volumeClaimTemplates").Index(i)
		for _, msg := range validation.IsDNS1123Subdomain(t.Name) {
			errs = append(errs, field.Invalid(tp.Child("metadata", "name"), t.Name, msg))
		}
		for _, e := range corev1api.ValidatePersistentVolumeClaim(t) {
			e.Field = strings.Replace(e.Field, "spec", tp.Child("spec").String(), 1)
			errs = append(errs, e)
		}
	}
	if ss.Spec.Ordinals != nil && ss.Spec.Ordinals.Start < 0 {
		errs = append(errs, field.Invalid(spec.Child("ordinals", "start"), ss.Spec.Ordinals.Start, "must be greater than or equal to 0"))
	}
	errs = append(errs, validateNonNegative(ss.Spec.MinReadySeconds, spec.Child("minReadySeconds"))...)
	return errs
}

// ValidateStatefulSetUpdate allows changes only to the fields upstream allows.
func ValidateStatefulSetUpdate(ss, old *appsv1.StatefulSet) field.ErrorList {
	errs := ValidateStatefulSet(ss)
	restore := ss.Spec.DeepCopy()
	restore.Replicas = old.Spec.Replicas
	restore.Ordinals = old.Spec.Ordinals
	restore.Template = old.Spec.Template
	restore.UpdateStrategy = old.Spec.UpdateStrategy
	restore.RevisionHistoryLimit = old.Spec.RevisionHistoryLimit
	restore.PersistentVolumeClaimRetentionPolicy = old.Spec.PersistentVolumeClaimRetentionPolicy
	restore.MinReadySeconds = old.Spec.MinReadySeconds
	if !apiequality.Semantic.DeepEqual(*restore, old.Spec) {
		errs = append(errs, field.Forbidden(field.NewPath("spec"), "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))
	}
	return errs
}

// ValidateDaemonSet checks a daemon set.
func ValidateDaemonSet(ds *appsv1.DaemonSet) field.ErrorList {
	spec := field.NewPath("spec")
	errs := ValidateSelectorTemplate(ds.Spec.Selector, &ds.Spec.Template, spec)
	errs = append(errs, corev1api.ValidatePodTemplateSpec(&ds.Spec.Template, spec.Child("template"))...)
	errs = append(errs, validateRestartAlways(&ds.Spec.Template, spec.Child("template"))...)
	us := spec.Child("updateStrategy")
	switch ds.Spec.UpdateStrategy.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
	case appsv1.RollingUpdateDaemonSetStrategyType:
		if ru := ds.Spec.UpdateStrategy.RollingUpdate; ru != nil {
			errs = append(errs, validateIntOrPercent(ru.MaxUnavailable, us.Child("rollingUpdate", "maxUnavailable"))...)
			errs = append(errs, validateIntOrPercent(ru.MaxSurge, us.Child("rollingUpdate", "maxSurge"))...)
			if isZero(ru.MaxUnavailable) && isZero(ru.MaxSurge) {
				errs = append(errs, field.Invalid(us.Child("rollingUpdate", "maxUnavailable"), ru.MaxUnavailable, "may not be 0 when `maxSurge` is 0"))
			}
		}
	default:
		errs = append(errs, field.NotSupported(us.Child("type"), ds.Spec.UpdateStrategy.Type, []appsv1.DaemonSetUpdateStrategyType{appsv1.OnDeleteDaemonSetStrategyType, appsv1.RollingUpdateDaemonSetStrategyType}))
	}
	errs = append(errs, validateNonNegative(ds.Spec.MinReadySeconds, spec.Child("minReadySeconds"))...)
	return errs
}

// ValidateDaemonSetUpdate also keeps the selector immutable.
func ValidateDaemonSetUpdate(ds, old *appsv1.DaemonSet) field.ErrorList {
	return append(ValidateDaemonSet(ds), validateSelectorImmutable(ds.Spec.Selector, old.Spec.Selector)...)
}

// ValidateControllerRevision checks a controller revision.
func ValidateControllerRevision(cr *appsv1.ControllerRevision) field.ErrorList {
	var errs field.ErrorList
	if cr.Data.Raw == nil && cr.Data.Object == nil {
		errs = append(errs, field.Required(field.NewPath("data"), "data is mandatory"))
	}
	return append(errs, apivalidation.ValidateNonnegativeField(cr.Revision, field.NewPath("revision"))...)
}

// ValidateControllerRevisionUpdate keeps data immutable.
func ValidateControllerRevisionUpdate(cr, old *appsv1.ControllerRevision) field.ErrorList {
	errs := ValidateControllerRevision(cr)
	return append(errs, apivalidation.ValidateImmutableField(cr.Data, old.Data, field.NewPath("data"))...)
}

// count is one replica count of a status, and the count it may not exceed.
type count struct {
	name  string
	value int32
	// atMost names the count this one may not exceed ("" for none).
	atMost string
}

func validateCounts(counts []count, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	byName := map[string]int32{}
	for _, c := range counts {
		byName[c.name] = c.value
	}
	for _, c := range counts {
		if c.value < 0 {
			errs = append(errs, field.Invalid(fldPath.Child(c.name), c.value, "must be greater than or equal to 0"))
			continue
		}
		if c.atMost != "" && c.value > byName[c.atMost] {
			errs = append(errs, field.Invalid(fldPath.Child(c.name), c.value, fmt.Sprintf("cannot be greater than status.%s", c.atMost)))
		}
	}
	return errs
}

// ValidateDeploymentStatus checks a deployment's status counts.
func ValidateDeploymentStatus(d *appsv1.Deployment) field.ErrorList {
	s := d.Status
	errs := validateCounts([]count{
		{"replicas", s.Replicas, ""}, {"updatedReplicas", s.UpdatedReplicas, "replicas"}, {"readyReplicas", s.ReadyReplicas, "replicas"},
		{"availableReplicas", s.AvailableReplicas, "readyReplicas"}, {"unavailableReplicas", s.UnavailableReplicas, ""},
	}, field.NewPath("status"))
	if s.ObservedGeneration < 0 {
		errs = append(errs, field.Invalid(field.NewPath("status", "observedGeneration"), s.ObservedGeneration, "must be greater than or equal to 0"))
	}
	return errs
}

// ValidateReplicaSetStatus checks a replica set's status counts.
func ValidateReplicaSetStatus(rs *appsv1.ReplicaSet) field.ErrorList {
	s := rs.Status
	return validateCounts([]count{
		{"replicas", s.Replicas, ""}, {"fullyLabeledReplicas", s.FullyLabeledReplicas, "replicas"}, {"readyReplicas", s.ReadyReplicas, "replicas"},
		{"availableReplicas", s.AvailableReplicas, "readyReplicas"},
	}, field.NewPath("status"))
}

// ValidateStatefulSetStatus checks a stateful set's status counts.
func ValidateStatefulSetStatus(ss *appsv1.StatefulSet) field.ErrorList {
	s := ss.Status
	return validateCounts([]count{
		{"replicas", s.Replicas, ""}, {"readyReplicas", s.ReadyReplicas, "replicas"}, {"currentReplicas", s.CurrentReplicas, "replicas"},
		{"updatedReplicas", s.UpdatedReplicas, "replicas"}, {"availableReplicas", s.AvailableReplicas, "readyReplicas"},
	}, field.NewPath("status"))
}

// ValidateDaemonSetStatus checks a daemon set's status counts.
func ValidateDaemonSetStatus(ds *appsv1.DaemonSet) field.ErrorList {
	s := ds.Status
	return validateCounts([]count{
		{"currentNumberScheduled", s.CurrentNumberScheduled, ""}, {"numberMisscheduled", s.NumberMisscheduled, ""},
		{"desiredNumberScheduled", s.DesiredNumberScheduled, ""}, {"numberReady", s.NumberReady, ""},
		{"updatedNumberScheduled", s.UpdatedNumberScheduled, ""}, {"numberAvailable", s.NumberAvailable, ""},
		{"numberUnavailable", s.NumberUnavailable, ""},
	}, field.NewPath("status"))
}
