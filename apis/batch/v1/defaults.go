package v1

import (
	"math"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	corev1api "github.com/skiffhq/skiff/apis/core/v1"
)

// SetDefaultsJob applies upstream's Job defaults.
func SetDefaultsJob(j *batchv1.Job) {
	corev1api.SetDefaultsPodTemplateSpec(&j.Spec.Template)
	if j.Spec.Completions == nil && j.Spec.Parallelism == nil {
		j.Spec.Completions = ptr(int32(1))
		j.Spec.Parallelism = ptr(int32(1))
	}
	if j.Spec.Parallelism == nil {
		j.Spec.Parallelism = ptr(int32(1))
	}
	if j.Spec.BackoffLimit == nil {
		if j.Spec.BackoffLimitPerIndex != nil {
			j.Spec.BackoffLimit = ptr(int32(math.MaxInt32))
		} else {
			j.Spec.BackoffLimit = ptr(int32(6))
		}
	}
	if j.Spec.CompletionMode == nil {
		j.Spec.CompletionMode = ptr(batchv1.NonIndexedCompletion)
	}
	if j.Spec.Suspend == nil {
		j.Spec.Suspend = ptr(false)
	}
	if j.Spec.PodReplacementPolicy == nil {
		if j.Spec.PodFailurePolicy != nil {
			j.Spec.PodReplacementPolicy = ptr(batchv1.Failed)
		} else {
			j.Spec.PodReplacementPolicy = ptr(batchv1.TerminatingOrFailed)
		}
	}
	if p := j.Spec.PodFailurePolicy; p != nil {
		for i := range p.Rules {
			for k := range p.Rules[i].OnPodConditions {
				if p.Rules[i].OnPodConditions[k].Status == "" {
					p.Rules[i].OnPodConditions[k].Status = "True"
				}
			}
		}
	}
}

// SetDefaultsCronJob applies upstream's CronJob defaults.
func SetDefaultsCronJob(cj *batchv1.CronJob) {
	corev1api.SetDefaultsPodTemplateSpec(&cj.Spec.JobTemplate.Spec.Template)
	if cj.Spec.ConcurrencyPolicy == "" {
		cj.Spec.ConcurrencyPolicy = batchv1.AllowConcurrent
	}
	if cj.Spec.Suspend == nil {
		cj.Spec.Suspend = ptr(false)
	}
	if cj.Spec.SuccessfulJobsHistoryLimit == nil {
		cj.Spec.SuccessfulJobsHistoryLimit = ptr(int32(3))
	}
	if cj.Spec.FailedJobsHistoryLimit == nil {
		cj.Spec.FailedJobsHistoryLimit = ptr(int32(1))
	}
}

// Label keys the job controller's generated selector uses.
const (
	LabelControllerUID       = "batch.kubernetes.io/controller-uid"
	LabelJobName             = "batch.kubernetes.io/job-name"
	LegacyLabelControllerUID = "controller-uid"
	LegacyLabelJobName       = "job-name"
)

// GenerateSelector gives a job without manualSelector a selector on its
// uid and labels its pod template to match, as upstream's job strategy does.
func GenerateSelector(j *batchv1.Job, uid types.UID) {
	if j.Spec.ManualSelector != nil && *j.Spec.ManualSelector {
		return
	}
	if j.Spec.Template.Labels == nil {
		j.Spec.Template.Labels = map[string]string{}
	}
	l := j.Spec.Template.Labels
	if _, ok := l[LegacyLabelControllerUID]; !ok {
		l[LegacyLabelControllerUID] = string(uid)
	}
	if _, ok := l[LegacyLabelJobName]; !ok {
		l[LegacyLabelJobName] = j.Name
	}
	if _, ok := l[LabelControllerUID]; !ok {
		l[LabelControllerUID] = string(uid)
	}
	if _, ok := l[LabelJobName]; !ok {
		l[LabelJobName] = j.Name
	}
	if j.Spec.Selector == nil {
		j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{LabelControllerUID: string(uid)}}
	}
}

func ptr[T any](v T) *T { return &v }
