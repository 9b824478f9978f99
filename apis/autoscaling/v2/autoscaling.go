// Package v2 holds skiff's behaviour for autoscaling/v2
// HorizontalPodAutoscalers: scheme installation, defaults, validation and
// kubectl table columns. (autoscaling/v1 is installed for the Scale
// subresource of workloads.)
package v2

import (
	"fmt"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// SetDefaultsHorizontalPodAutoscaler defaults minReplicas to 1 and, without
// metrics, scales on 80% average CPU utilization, as upstream.
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
