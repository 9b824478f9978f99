package cronjob

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/skiffhq/skiff/controllers/conflict"
	"github.com/skiffhq/skiff/controllers/eventfilter"
	"github.com/skiffhq/skiff/controllers/podcontrol"
)

var gvk = batchv1.SchemeGroupVersion.WithKind("CronJob")

// resyncEvery: every CronJob is looked at this often by the injected
// clock, besides the requeue at its next scheduled time.
const resyncEvery = 10 * time.Second

// tooManyMissed is how many missed start times upstream tolerates before
// it warns (it still starts the latest).
const tooManyMissed = 100

type reconciler struct {
	client client.Client
	// live reads past the cache, before acting on a schedule.
	live     client.Reader
	clock    clock.WithTicker
	recorder events.EventRecorder
}

// Setup registers the controller with the manager.
func Setup(mgr ctrl.Manager, clk clock.WithTicker) error {
	r := &reconciler{client: mgr.GetClient(), live: mgr.GetAPIReader(), clock: clk, recorder: eventfilter.New(mgr.GetEventRecorder("cronjob-controller"), clk)}
	ticks := make(chan event.GenericEvent)
	if err := mgr.Add(&ticker{r: r, out: ticks}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).Named("cronjob").
		For(&batchv1.CronJob{}).
		Owns(&batchv1.Job{}).
		WatchesRawSource(source.Channel(ticks, &handler.EnqueueRequestForObject{})).
		Complete(conflict.Retry(r))
}

// ticker wakes every CronJob on the injected clock.
type ticker struct {
	r   *reconciler
	out chan<- event.GenericEvent
}

func (t *ticker) Start(ctx context.Context) error {
	tk := t.r.clock.NewTicker(resyncEvery)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tk.C():
		}
		var list batchv1.CronJobList
		if err := t.r.client.List(ctx, &list); err != nil {
			continue
		}
		for i := range list.Items {
			select {
			case t.out <- event.GenericEvent{Object: &list.Items[i]}:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// Schedule parses a CronJob's schedule in its time zone.
func Schedule(cj *batchv1.CronJob) (cron.Schedule, *time.Location, error) {
	loc := time.Local
	if cj.Spec.TimeZone != nil {
		l, err := time.LoadLocation(*cj.Spec.TimeZone)
		if err != nil {
			return nil, nil, fmt.Errorf("unknown time zone %q: %w", *cj.Spec.TimeZone, err)
		}
		loc = l
	}
	s, err := cron.ParseStandard(cj.Spec.Schedule)
	if err != nil {
		return nil, nil, fmt.Errorf("unparseable schedule %q: %w", cj.Spec.Schedule, err)
	}
	return s, loc, nil
}

func finished(j *batchv1.Job) (batchv1.JobConditionType, bool) {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.Type, true
		}
	}
	return "", false
}

func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cj := &batchv1.CronJob{}
	if err := r.client.Get(ctx, req.NamespacedName, cj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	var list batchv1.JobList
	if err := r.client.List(ctx, &list, client.InNamespace(cj.Namespace)); err != nil {
		return ctrl.Result{}, err
	}
	var jobs []*batchv1.Job
	for i := range list.Items {
		if metav1.IsControlledBy(&list.Items[i], cj) {
			jobs = append(jobs, &list.Items[i])
		}
	}
	st := cj.Status.DeepCopy()
	r.trackActive(cj, st, jobs)
	if err := r.cleanup(ctx, cj, jobs); err != nil {
		return ctrl.Result{}, err
	}
	now := r.clock.Now()
	var requeue time.Duration
	if cj.DeletionTimestamp == nil && (cj.Spec.Suspend == nil || !*cj.Spec.Suspend) {
		var err error
		if requeue, err = r.schedule(ctx, cj, st, jobs, now); err != nil {
			_ = r.writeStatus(ctx, cj, st)
			return ctrl.Result{}, err
		}
	}
	if err := r.writeStatus(ctx, cj, st); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}

// trackActive keeps status.active to the unfinished Jobs the CronJob
// controls, and records the last success.
func (r *reconciler) trackActive(cj *batchv1.CronJob, st *batchv1.CronJobStatus, jobs []*batchv1.Job) {
	byUID := map[string]*batchv1.Job{}
	for _, j := range jobs {
		byUID[string(j.UID)] = j
	}
	var active []corev1.ObjectReference
	seen := map[string]bool{}
	for _, ref := range st.Active {
		j, ok := byUID[string(ref.UID)]
		if !ok {
			continue // deleted
		}
		seen[string(ref.UID)] = true
		if kind, done := finished(j); done {
			r.recorder.Eventf(cj, j, corev1.EventTypeNormal, "SawCompletedJob", "Track", "Saw completed job: %s, condition: %s", j.Name, kind)
			if kind == batchv1.JobComplete && j.Status.CompletionTime != nil &&
				(st.LastSuccessfulTime == nil || j.Status.CompletionTime.After(st.LastSuccessfulTime.Time)) {
				st.LastSuccessfulTime = j.Status.CompletionTime
			}
			continue
		}
		active = append(active, ref)
	}
	for _, j := range jobs {
		if _, done := finished(j); done || seen[string(j.UID)] || j.DeletionTimestamp != nil {
			continue
		}
		// Made by someone else (kubectl create job --from) or forgotten.
		r.recorder.Eventf(cj, j, corev1.EventTypeWarning, "UnexpectedJob", "Track", "Saw a job that the controller did not create or forgot: %s", j.Name)
		active = append(active, jobRef(j))
	}
	st.Active = active
}

func jobRef(j *batchv1.Job) corev1.ObjectReference {
	return corev1.ObjectReference{Kind: "Job", APIVersion: "batch/v1", Namespace: j.Namespace, Name: j.Name, UID: j.UID, ResourceVersion: j.ResourceVersion}
}

// schedule starts the Job of the most recent missed time, if any, and
// returns how long until the next one.
func (r *reconciler) schedule(ctx context.Context, cj *batchv1.CronJob, st *batchv1.CronJobStatus, jobs []*batchv1.Job, now time.Time) (time.Duration, error) {
	sched, loc, err := Schedule(cj)
	if err != nil {
		r.recorder.Eventf(cj, nil, corev1.EventTypeWarning, "UnparseableSchedule", "Schedule", "%v", err)
		return 0, nil // nothing will fix it but an edit
	}
	earliest := cj.CreationTimestamp.Time
	if st.LastScheduleTime != nil {
		earliest = st.LastScheduleTime.Time
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil {
		if w := now.Add(-time.Duration(*d) * time.Second); w.After(earliest) {
			earliest = w
		}
	}
	due, missed := mostRecent(sched, earliest.In(loc), now)
	next := sched.Next(now.In(loc)).Sub(now) + 100*time.Millisecond
	if due.IsZero() {
		return next, nil
	}
	// The Job of this time exists already (the status write that should
	// have recorded it was lost): the time is processed.
	name := fmt.Sprintf("%s-%d", cj.Name, due.Unix()/60)
	for _, j := range jobs {
		if j.Name == name {
			st.LastScheduleTime = &metav1.Time{Time: due}
			return next, nil
		}
	}
	// The cache may not hold this controller's own last status write yet:
	// a time already processed must not start (or, under Replace, delete)
	// anything again. Checked on the stored object, once per due time.
	if r.live != nil {
		stored := &batchv1.CronJob{}
		if err := r.live.Get(ctx, client.ObjectKeyFromObject(cj), stored); err != nil {
			return 0, client.IgnoreNotFound(err)
		}
		if last := stored.Status.LastScheduleTime; last != nil && !last.Time.Before(due) {
			return next, nil
		}
	}
	if missed > tooManyMissed {
		r.recorder.Eventf(cj, nil, corev1.EventTypeWarning, "TooManyMissedTimes", "Schedule",
			"too many missed start times: %d. Set or decrease .spec.startingDeadlineSeconds or check clock skew", missed)
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil && due.Before(now.Add(-time.Duration(*d)*time.Second)) {
		r.recorder.Eventf(cj, nil, corev1.EventTypeWarning, "MissSchedule", "Schedule", "Missed scheduled time to start a job: %s", due.Format(time.RFC1123Z))
		return next, nil
	}
	switch cj.Spec.ConcurrencyPolicy {
	case batchv1.ForbidConcurrent:
		if len(st.Active) > 0 {
			r.recorder.Eventf(cj, nil, corev1.EventTypeNormal, "JobAlreadyActive", "Schedule", "Not starting job because prior execution is running and concurrency policy is Forbid")
			return next, nil
		}
	case batchv1.ReplaceConcurrent:
		for _, ref := range st.Active {
			j := &batchv1.Job{}
			j.Namespace, j.Name, j.UID = ref.Namespace, ref.Name, ref.UID
			uid := ref.UID
			if err := r.client.Delete(ctx, j, client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: &uid}); err != nil && !apierrors.IsNotFound(err) {
				return 0, err
			}
			r.recorder.Eventf(cj, nil, corev1.EventTypeNormal, "SuccessfulDelete", "Delete", "Deleted job %s", ref.Name)
		}
		st.Active = nil
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: cj.Namespace,
			Labels:          copyMap(cj.Spec.JobTemplate.Labels),
			Annotations:     copyMap(cj.Spec.JobTemplate.Annotations),
			OwnerReferences: []metav1.OwnerReference{podcontrol.ControllerRef(cj, gvk)},
		},
		Spec: *cj.Spec.JobTemplate.Spec.DeepCopy(),
	}
	if job.Annotations == nil {
		job.Annotations = map[string]string{}
	}
	job.Annotations[batchv1.CronJobScheduledTimestampAnnotation] = due.In(loc).Format(time.RFC3339)
	err = r.client.Create(ctx, job)
	switch {
	case apierrors.IsAlreadyExists(err):
		existing := &batchv1.Job{}
		if gerr := r.client.Get(ctx, client.ObjectKeyFromObject(job), existing); gerr != nil {
			return 0, gerr
		}
		if !metav1.IsControlledBy(existing, cj) {
			return 0, fmt.Errorf("job %s exists and is not controlled by this CronJob", job.Name)
		}
		job = existing
	case err != nil:
		r.recorder.Eventf(cj, nil, corev1.EventTypeWarning, "FailedCreate", "Create", "Error creating job: %v", err)
		return 0, err
	default:
		r.recorder.Eventf(cj, job, corev1.EventTypeNormal, "SuccessfulCreate", "Create", "Created job %s", job.Name)
	}
	if _, done := finished(job); !done && !containsRef(st.Active, job) {
		st.Active = append(st.Active, jobRef(job))
	}
	st.LastScheduleTime = &metav1.Time{Time: due}
	return next, nil
}

// mostRecent returns the latest scheduled time in (since, now] and how
// many there were. A CronJob missed for a long time is walked back from
// two days ago instead of from its last run.
func mostRecent(sched cron.Schedule, since, now time.Time) (time.Time, int) {
	var due time.Time
	missed := 0
	for t := sched.Next(since); !t.After(now); t = sched.Next(t) {
		due = t
		if missed++; missed >= 100000 {
			recent, n := mostRecent(sched, now.Add(-48*time.Hour), now)
			if !recent.IsZero() {
				due = recent
			}
			return due, missed + n
		}
	}
	return due, missed
}

func containsRef(refs []corev1.ObjectReference, j *batchv1.Job) bool {
	for _, r := range refs {
		if r.UID == j.UID {
			return true
		}
	}
	return false
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// cleanup deletes the oldest finished Jobs beyond the history limits.
func (r *reconciler) cleanup(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) error {
	limits := map[batchv1.JobConditionType]int32{batchv1.JobComplete: 3, batchv1.JobFailed: 1}
	if cj.Spec.SuccessfulJobsHistoryLimit != nil {
		limits[batchv1.JobComplete] = *cj.Spec.SuccessfulJobsHistoryLimit
	}
	if cj.Spec.FailedJobsHistoryLimit != nil {
		limits[batchv1.JobFailed] = *cj.Spec.FailedJobsHistoryLimit
	}
	for kind, limit := range limits {
		var done []*batchv1.Job
		for _, j := range jobs {
			if k, ok := finished(j); ok && k == kind && j.DeletionTimestamp == nil {
				done = append(done, j)
			}
		}
		if int32(len(done)) <= limit {
			continue
		}
		oldestFirst(done)
		for _, j := range done[:int32(len(done))-limit] {
			uid := j.UID
			if err := r.client.Delete(ctx, j, client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: &uid}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			r.recorder.Eventf(cj, nil, corev1.EventTypeNormal, "SuccessfulDelete", "Delete", "Deleted job %s", j.Name)
		}
	}
	return nil
}

// oldestFirst sorts finished Jobs by start time (creation time when they
// never started). Start times have whole seconds; as upstream, the name
// (NAME-<scheduled minute>) orders Jobs started in the same second, so
// that two syncs never pick different Jobs to keep.
func oldestFirst(jobs []*batchv1.Job) {
	sort.Slice(jobs, func(a, b int) bool {
		ta, tb := jobs[a].CreationTimestamp.Time, jobs[b].CreationTimestamp.Time
		if jobs[a].Status.StartTime != nil {
			ta = jobs[a].Status.StartTime.Time
		}
		if jobs[b].Status.StartTime != nil {
			tb = jobs[b].Status.StartTime.Time
		}
		if ta.Equal(tb) {
			return jobs[a].Name < jobs[b].Name
		}
		return ta.Before(tb)
	})
}

func (r *reconciler) writeStatus(ctx context.Context, cj *batchv1.CronJob, st *batchv1.CronJobStatus) error {
	if apiequality.Semantic.DeepEqual(cj.Status, *st) {
		return nil
	}
	updated := cj.DeepCopy()
	updated.Status = *st
	return r.client.Status().Update(ctx, updated)
}
