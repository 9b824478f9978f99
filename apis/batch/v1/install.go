package v1

import (
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiffhq/skiff/apis/fieldselector"
	"github.com/skiffhq/skiff/apis/internalversion"
)

// Install registers batch/v1 (external and internal) and its defaults in scheme.
func Install(scheme *runtime.Scheme) error {
	if err := batchv1.AddToScheme(scheme); err != nil {
		return err
	}
	if err := internalversion.Register(scheme, batchv1.SchemeGroupVersion); err != nil {
		return err
	}
	scheme.AddTypeDefaultingFunc(&batchv1.Job{}, func(o any) { SetDefaultsJob(o.(*batchv1.Job)) })
	scheme.AddTypeDefaultingFunc(&batchv1.CronJob{}, func(o any) { SetDefaultsCronJob(o.(*batchv1.CronJob)) })
	if err := fieldselector.Register(scheme, batchv1.SchemeGroupVersion.WithKind("Job"), &batchv1.Job{}, JobFields); err != nil {
		return err
	}
	return scheme.SetVersionPriority(batchv1.SchemeGroupVersion)
}

// JobFields returns the field selector keys of a job.
func JobFields(obj runtime.Object) fields.Set {
	return fields.Set{"status.successful": strconv.Itoa(int(obj.(*batchv1.Job).Status.Succeeded))}
}
