// Package v2 holds skiff's behaviour for autoscaling/v2
// HorizontalPodAutoscalers: scheme installation, defaults, validation and
// kubectl table columns. (autoscaling/v1 is installed for the Scale
// subresource of workloads.)
package v2

import (
	"fmt"
	"slices"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/apis/internalversion"
	"github.com/skiffhq/skiff/apis/table"
)

// Install registers autoscaling/v2 (whose HorizontalPodAutoscaler is the
// internal one) and autoscaling/v1's Scale in a scheme.
func Install(scheme *runtime.Scheme) error {
	if err := autoscalingv1.AddToScheme(scheme); err != nil {
		return err
	}
	if err := internalversion.RegisterKinds(scheme, autoscalingv1.SchemeGroupVersion, "Scale"); err != nil {
		return err
	}
	if err := autoscalingv2.AddToScheme(scheme); err != nil {
		return err
	}
	if err := internalversion.Register(scheme, autoscalingv2.SchemeGroupVersion); err != nil {
		return err
	}
	if err := scheme.SetVersionPriority(autoscalingv2.SchemeGroupVersion, autoscalingv1.SchemeGroupVersion); err != nil {
		return err
	}
	scheme.AddTypeDefaultingFunc(&autoscalingv2.HorizontalPodAutoscaler{}, func(o any) {
		SetDefaultsHorizontalPodAutoscaler(o.(*autoscalingv2.HorizontalPodAutoscaler))
	})
	return nil
}

// SetDefaultsHorizontalPodAutoscaler defaults minReplicas to 1, without
// metrics scales on 80% average CPU utilization, and completes a set
// behavior's scaling rules, as upstream.
func SetDefaultsHorizontalPodAutoscaler(hpa *autoscalingv2.HorizontalPodAutoscaler) {
	if hpa.Spec.MinReplicas == nil {
		one := int32(1)
		hpa.Spec.MinReplicas = &one
	}
	if len(hpa.Spec.Metrics) == 0 {
		utilization := int32(80)
		hpa.Spec.Metrics = []autoscalingv2.MetricSpec{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU,
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &utilization}},
		}}
	}
	if b := hpa.Spec.Behavior; b != nil {
		// A behavior that is set gets every unset rule field filled in,
		// with the controller's historical limits.
		zero := int32(0)
		b.ScaleUp = fillScalingRules(b.ScaleUp, &zero, []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		})
		// Scale-down stabilization stays unset: the controller's
		// --horizontal-pod-autoscaler-downscale-stabilization decides it.
		b.ScaleDown = fillScalingRules(b.ScaleDown, nil, []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		})
	}
}

func fillScalingRules(r *autoscalingv2.HPAScalingRules, window *int32, policies []autoscalingv2.HPAScalingPolicy) *autoscalingv2.HPAScalingRules {
	if r == nil {
		r = &autoscalingv2.HPAScalingRules{}
	}
	if r.StabilizationWindowSeconds == nil {
		r.StabilizationWindowSeconds = window
	}
	if r.SelectPolicy == nil {
		p := autoscalingv2.MaxChangePolicySelect
		r.SelectPolicy = &p
	}
	if r.Policies == nil {
		r.Policies = policies
	}
	return r
}

// ValidateHorizontalPodAutoscaler checks the target and the replica bounds.
func ValidateHorizontalPodAutoscaler(hpa *autoscalingv2.HorizontalPodAutoscaler) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	ref := spec.Child("scaleTargetRef")
	if hpa.Spec.ScaleTargetRef.Kind == "" {
		errs = append(errs, field.Required(ref.Child("kind"), ""))
	}
	if hpa.Spec.ScaleTargetRef.Name == "" {
		errs = append(errs, field.Required(ref.Child("name"), ""))
	}
	if hpa.Spec.MinReplicas != nil && *hpa.Spec.MinReplicas < 1 {
		errs = append(errs, field.Invalid(spec.Child("minReplicas"), *hpa.Spec.MinReplicas, "must be greater than or equal to 1"))
	}
	if hpa.Spec.MaxReplicas < 1 {
		errs = append(errs, field.Invalid(spec.Child("maxReplicas"), hpa.Spec.MaxReplicas, "must be greater than 0"))
	}
	if hpa.Spec.MinReplicas != nil && hpa.Spec.MaxReplicas < *hpa.Spec.MinReplicas {
		errs = append(errs, field.Invalid(spec.Child("maxReplicas"), hpa.Spec.MaxReplicas, "must be greater than or equal to `minReplicas`"))
	}
	for i := range hpa.Spec.Metrics {
		errs = append(errs, validateMetricSpec(&hpa.Spec.Metrics[i], spec.Child("metrics").Index(i))...)
	}
	if b := hpa.Spec.Behavior; b != nil {
		errs = append(errs, validateScalingRules(b.ScaleUp, spec.Child("behavior", "scaleUp"))...)
		errs = append(errs, validateScalingRules(b.ScaleDown, spec.Child("behavior", "scaleDown"))...)
	}
	return errs
}

var metricSourceTypes = []autoscalingv2.MetricSourceType{
	autoscalingv2.ContainerResourceMetricSourceType, autoscalingv2.ExternalMetricSourceType,
	autoscalingv2.ObjectMetricSourceType, autoscalingv2.PodsMetricSourceType, autoscalingv2.ResourceMetricSourceType,
}

// validateMetricSpec checks that a metric names one known source type,
// populates exactly that source and sets a usable target for it.
func validateMetricSpec(m *autoscalingv2.MetricSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if m.Type == "" {
		errs = append(errs, field.Required(fldPath.Child("type"), "must specify a metric source type"))
	} else if !slices.Contains(metricSourceTypes, m.Type) {
		errs = append(errs, field.NotSupported(fldPath.Child("type"), m.Type, metricSourceTypes))
	}
	sources := []struct {
		typ  autoscalingv2.MetricSourceType
		name string
		set  bool
	}{
		{autoscalingv2.ContainerResourceMetricSourceType, "containerResource", m.ContainerResource != nil},
		{autoscalingv2.ExternalMetricSourceType, "external", m.External != nil},
		{autoscalingv2.ObjectMetricSourceType, "object", m.Object != nil},
		{autoscalingv2.PodsMetricSourceType, "pods", m.Pods != nil},
		{autoscalingv2.ResourceMetricSourceType, "resource", m.Resource != nil},
	}
	for _, src := range sources {
		switch {
		case src.typ == m.Type && !src.set:
			errs = append(errs, field.Required(fldPath.Child(src.name), "must populate information for the given metric source"))
		case src.typ != m.Type && src.set:
			errs = append(errs, field.Forbidden(fldPath.Child(src.name), "must populate the given metric source only"))
		}
	}
	switch {
	case m.Object != nil:
		p := fldPath.Child("object")
		if m.Object.DescribedObject.Kind == "" {
			errs = append(errs, field.Required(p.Child("describedObject", "kind"), ""))
		}
		if m.Object.DescribedObject.Name == "" {
			errs = append(errs, field.Required(p.Child("describedObject", "name"), ""))
		}
		errs = append(errs, validateMetricIdentifier(m.Object.Metric, p.Child("metric"))...)
		errs = append(errs, validateMetricTarget(m.Object.Target, p.Child("target"))...)
		if m.Object.Target.Value == nil && m.Object.Target.AverageValue == nil {
			errs = append(errs, field.Required(p.Child("target", "value"), "must set either a target value or averageValue"))
		}
	case m.Pods != nil:
		p := fldPath.Child("pods")
		errs = append(errs, validateMetricIdentifier(m.Pods.Metric, p.Child("metric"))...)
		errs = append(errs, validateMetricTarget(m.Pods.Target, p.Child("target"))...)
		if m.Pods.Target.AverageValue == nil {
			errs = append(errs, field.Required(p.Child("target", "averageValue"), "must specify a positive target averageValue"))
		}
	case m.Resource != nil:
		errs = append(errs, validateResourceTarget(m.Resource.Name, m.Resource.Target, fldPath.Child("resource"))...)
	case m.ContainerResource != nil:
		p := fldPath.Child("containerResource")
		if m.ContainerResource.Container == "" {
			errs = append(errs, field.Required(p.Child("container"), "must populate container name"))
		}
		errs = append(errs, validateResourceTarget(m.ContainerResource.Name, m.ContainerResource.Target, p)...)
	case m.External != nil:
		p := fldPath.Child("external")
		errs = append(errs, validateMetricIdentifier(m.External.Metric, p.Child("metric"))...)
		errs = append(errs, validateMetricTarget(m.External.Target, p.Child("target"))...)
		if m.External.Target.Value == nil && m.External.Target.AverageValue == nil {
			errs = append(errs, field.Required(p.Child("target", "value"), "must set either a target value for metric or a per-pod target"))
		}
	}
	return errs
}

func validateResourceTarget(name corev1.ResourceName, t autoscalingv2.MetricTarget, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(fldPath.Child("name"), "must specify a resource name"))
	}
	errs = append(errs, validateMetricTarget(t, fldPath.Child("target"))...)
	switch {
	case t.AverageUtilization == nil && t.AverageValue == nil:
		errs = append(errs, field.Required(fldPath.Child("target", "averageUtilization"), "must set either a target raw value or a target utilization"))
	case t.AverageUtilization != nil && t.AverageValue != nil:
		errs = append(errs, field.Forbidden(fldPath.Child("target", "averageValue"), "may not set both a target raw value and a target utilization"))
	}
	return errs
}

func validateMetricIdentifier(id autoscalingv2.MetricIdentifier, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if id.Name == "" {
		errs = append(errs, field.Required(fldPath.Child("name"), "must specify a metric name"))
	} else {
		for _, msg := range path.IsValidPathSegmentName(id.Name) {
			errs = append(errs, field.Invalid(fldPath.Child("name"), id.Name, msg))
		}
	}
	if id.Selector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(id.Selector, metav1validation.LabelSelectorValidationOptions{}, fldPath.Child("selector"))...)
	}
	return errs
}

func validateMetricTarget(t autoscalingv2.MetricTarget, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch t.Type {
	case autoscalingv2.UtilizationMetricType, autoscalingv2.ValueMetricType, autoscalingv2.AverageValueMetricType:
	case "":
		errs = append(errs, field.Required(fldPath.Child("type"), "must specify a metric target type"))
	default:
		errs = append(errs, field.Invalid(fldPath.Child("type"), t.Type, "must be either Utilization, Value, or AverageValue"))
	}
	if t.Value != nil && t.Value.Sign() != 1 {
		errs = append(errs, field.Invalid(fldPath.Child("value"), t.Value.String(), "must be positive"))
	}
	if t.AverageValue != nil && t.AverageValue.Sign() != 1 {
		errs = append(errs, field.Invalid(fldPath.Child("averageValue"), t.AverageValue.String(), "must be positive"))
	}
	if t.AverageUtilization != nil && *t.AverageUtilization < 1 {
		errs = append(errs, field.Invalid(fldPath.Child("averageUtilization"), *t.AverageUtilization, "must be greater than 0"))
	}
	return errs
}

// Upstream's bounds on scaling behaviour.
const (
	maxStabilizationWindowSeconds = 3600
	maxPolicyPeriodSeconds        = 1800
)

func validateScalingRules(r *autoscalingv2.HPAScalingRules, fldPath *field.Path) field.ErrorList {
	if r == nil {
		return nil
	}
	var errs field.ErrorList
	if w := r.StabilizationWindowSeconds; w != nil {
		if *w < 0 {
			errs = append(errs, field.Invalid(fldPath.Child("stabilizationWindowSeconds"), *w, "must be greater than or equal to zero"))
		} else if *w > maxStabilizationWindowSeconds {
			errs = append(errs, field.Invalid(fldPath.Child("stabilizationWindowSeconds"), *w, fmt.Sprintf("must be less than or equal to %d", maxStabilizationWindowSeconds)))
		}
	}
	if p := r.SelectPolicy; p != nil {
		allowed := []autoscalingv2.ScalingPolicySelect{autoscalingv2.DisabledPolicySelect, autoscalingv2.MaxChangePolicySelect, autoscalingv2.MinChangePolicySelect}
		if !slices.Contains(allowed, *p) {
			errs = append(errs, field.NotSupported(fldPath.Child("selectPolicy"), *p, allowed))
		}
	}
	if len(r.Policies) == 0 {
		errs = append(errs, field.Required(fldPath.Child("policies"), "must specify at least one Policy"))
	}
	for i, pol := range r.Policies {
		p := fldPath.Child("policies").Index(i)
		allowed := []autoscalingv2.HPAScalingPolicyType{autoscalingv2.PercentScalingPolicy, autoscalingv2.PodsScalingPolicy}
		if !slices.Contains(allowed, pol.Type) {
			errs = append(errs, field.NotSupported(p.Child("type"), pol.Type, allowed))
		}
		if pol.Value <= 0 {
			errs = append(errs, field.Invalid(p.Child("value"), pol.Value, "must be greater than zero"))
		}
		if pol.PeriodSeconds <= 0 {
			errs = append(errs, field.Invalid(p.Child("periodSeconds"), pol.PeriodSeconds, "must be greater than zero"))
		} else if pol.PeriodSeconds > maxPolicyPeriodSeconds {
			errs = append(errs, field.Invalid(p.Child("periodSeconds"), pol.PeriodSeconds, fmt.Sprintf("must be less than or equal to %d", maxPolicyPeriodSeconds)))
		}
	}
	return errs
}

// HorizontalPodAutoscalerColumns are the columns of kubectl get hpa.
var HorizontalPodAutoscalerColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Reference", "string", "The reference to the scaled resource."),
	table.Column("Targets", "string", "The current and target values of the metrics."),
	table.Column("MinPods", "string", "Lower limit for the number of pods that can be set by the autoscaler, default 1."),
	table.Column("MaxPods", "integer", "Upper limit for the number of pods that can be set by the autoscaler; cannot be smaller than MinReplicas."),
	table.Column("Replicas", "integer", "Current number of replicas of pods managed by this autoscaler."),
	table.AgeColumn,
}

// HorizontalPodAutoscalerRow renders an autoscaler.
func HorizontalPodAutoscalerRow(obj runtime.Object) ([]any, error) {
	hpa := obj.(*autoscalingv2.HorizontalPodAutoscaler)
	reference := hpa.Spec.ScaleTargetRef.Kind + "/" + hpa.Spec.ScaleTargetRef.Name
	var targets []string
	for _, m := range hpa.Spec.Metrics {
		if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil {
			target := "<unknown>"
			if u := m.Resource.Target.AverageUtilization; u != nil {
				target = fmt.Sprintf("%d%%", *u)
			} else if v := m.Resource.Target.AverageValue; v != nil {
				target = v.String()
			}
			targets = append(targets, fmt.Sprintf("%s: <unknown>/%s", m.Resource.Name, target))
		} else {
			targets = append(targets, "<unknown>")
		}
	}
	minPods := "<unset>"
	if hpa.Spec.MinReplicas != nil {
		minPods = fmt.Sprint(*hpa.Spec.MinReplicas)
	}
	return []any{hpa.Name, reference, strings.Join(targets, ", "), minPods, int64(hpa.Spec.MaxReplicas), int64(hpa.Status.CurrentReplicas), table.Age(hpa.CreationTimestamp)}, nil
}
