package v1

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"

	appsv1api "github.com/skiffhq/skiff/apis/apps/v1"
	"github.com/skiffhq/skiff/apis/table"
)

// JobColumns are the columns of kubectl get jobs.
var JobColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Status", "string", "Status of the job."),
	table.Column("Completions", "string", "The completed job pods and the desired completions."),
	table.Column("Duration", "string", "Time required to complete the job."),
	table.AgeColumn,
	table.Wide("Containers", "string", "Names of each container in the template."),
	table.Wide("Images", "string", "Images referenced by each container in the template."),
	table.Wide("Selector", "string", "A label query over pods that should match the pod count."),
}

// JobRow renders a job.
func JobRow(obj runtime.Object) ([]any, error) {
	j := obj.(*batchv1.Job)
	var completions string
	switch {
	case j.Spec.Completions != nil:
		completions = fmt.Sprintf("%d/%d", j.Status.Succeeded, *j.Spec.Completions)
	case j.Spec.Parallelism != nil && *j.Spec.Parallelism > 1:
		completions = fmt.Sprintf("%d/1 of %d", j.Status.Succeeded, *j.Spec.Parallelism)
	default:
		completions = fmt.Sprintf("%d/1", j.Status.Succeeded)
	}
	var dur string
	switch {
	case j.Status.StartTime == nil:
	case j.Status.CompletionTime == nil:
		dur = duration.HumanDuration(table.Now().Sub(j.Status.StartTime.Time))
	default:
		dur = duration.HumanDuration(j.Status.CompletionTime.Sub(j.Status.StartTime.Time))
	}
	containers, images := appsv1api.ContainersAndImages(&j.Spec.Template)
	return []any{j.Name, JobStatus(j), completions, dur, table.Age(j.CreationTimestamp), containers, images, table.LabelSelector(j.Spec.Selector)}, nil
}

// JobStatus is the STATUS cell of a job, as kubectl shows it.
func JobStatus(j *batchv1.Job) string {
	has := func(t batchv1.JobConditionType) bool {
		for _, c := range j.Status.Conditions {
			if c.Type == t && c.Status == corev1.ConditionTrue {
				return true
			}
		}
		return false
	}
	switch {
	case has(batchv1.JobFailed):
		return "Failed"
	case has(batchv1.JobComplete):
		return "Complete"
	case has(batchv1.JobSuspended):
		return "Suspended"
	case has(batchv1.JobFailureTarget):
		return "FailureTarget"
	case has(batchv1.JobSuccessCriteriaMet):
		return "SuccessCriteriaMet"
	case j.DeletionTimestamp != nil:
		return "Terminating"
	}
	return "Running"
}

// CronJobColumns are the columns of kubectl get cronjobs.
var CronJobColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Schedule", "string", "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
	table.Column("Timezone", "string", "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones."),
	table.Column("Suspend", "boolean", "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions."),
	table.Column("Active", "integer", "A list of pointers to currently running jobs."),
	table.Column("Last Schedule", "string", "Information when was the last time the job was successfully scheduled."),
	table.AgeColumn,
	table.Wide("Containers", "string", "Names of each container in the template."),
	table.Wide("Images", "string", "Images referenced by each container in the template."),
	table.Wide("Selector", "string", "A label query over pods that should match the pod count."),
}

// CronJobRow renders a cron job.
func CronJobRow(obj runtime.Object) ([]any, error) {
	cj := obj.(*batchv1.CronJob)
	last := "<none>"
	if cj.Status.LastScheduleTime != nil {
		last = table.Age(*cj.Status.LastScheduleTime)
	}
	tz := "<none>"
	if cj.Spec.TimeZone != nil {
		tz = *cj.Spec.TimeZone
	}
	suspend := "False"
	if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
		suspend = "True"
	}
	containers, images := appsv1api.ContainersAndImages(&cj.Spec.JobTemplate.Spec.Template)
	return []any{cj.Name, cj.Spec.Schedule, tz, suspend, int64(len(cj.Status.Active)), last, table.Age(cj.CreationTimestamp),
		containers, images, table.LabelSelector(cj.Spec.JobTemplate.Spec.Selector)}, nil
}
