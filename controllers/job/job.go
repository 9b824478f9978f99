package job

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	"github.com/skiffhq/skiff/controllers/conflict"
	"github.com/skiffhq/skiff/controllers/eventfilter"
	"github.com/skiffhq/skiff/controllers/expectations"
	"github.com/skiffhq/skiff/controllers/podcontrol"
)

var gvk = batchv1.SchemeGroupVersion.WithKind("Job")

// Back-off before replacing failed pods: 10 s doubling, at most 6 min.
const (
	initialBackOff = 10 * time.Second
	maxBackOff     = 6 * time.Minute
)

type backOffRecord struct {
	failures int
	last     time.Time
}

type reconciler struct {
	client   client.Client
	clock    clock.PassiveClock
	recorder events.EventRecorder
	exp      *expectations.Expectations
	pods     *podcontrol.Index

	mu      sync.Mutex
	backOff map[string]backOffRecord
}

// Setup registers the controller with the manager.
func Setup(mgr ctrl.Manager, clk clock.PassiveClock) error {
	pods, err := podcontrol.NewIndex(context.Background(), mgr.GetCache())
	if err != nil {
		return err
	}
	r := &reconciler{client: mgr.GetClient(), clock: clk, recorder: eventfilter.New(mgr.GetEventRecorder("job-controller"), clk),
		exp: expectations.New(clk), backOff: map[string]backOffRecord{}, pods: pods}
	return ctrl.NewControllerManagedBy(mgr).Named("job").
		For(&batchv1.Job{}).
		Watches(&corev1.Pod{}, &expectations.Handler{Owner: gvk, Exp: r.exp}).
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Complete(conflict.Retry(r))
}

func finishedCondition(j *batchv1.Job) (batchv1.JobConditionType, *batchv1.JobCondition) {
	for i := range j.Status.Conditions {
		c := &j.Status.Conditions[i]
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.Type, c
		}
	}
	return "", nil
}

func hasCondition(j *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	key := req.String()
	job := &batchv1.Job{}
	if err := r.client.Get(ctx, req.NamespacedName, job); apierrors.IsNotFound(err) {
		r.exp.Forget(key)
		r.mu.Lock()
		delete(r.backOff, key)
		r.mu.Unlock()
		return ctrl.Result{}, nil
	} else if err != nil {
		return ctrl.Result{}, err
	}
	selector, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		return ctrl.Result{}, nil
	}
	satisfied := r.exp.Satisfied(key)
	// Copies: removing finalizers patches the pods.
	pods, err := podcontrol.Claim(ctx, r.client, job, gvk, selector, podcontrol.DeepCopies(r.pods.Candidates(job, selector)))
	if err != nil {
		return ctrl.Result{}, err
	}
	now := r.clock.Now()
	if _, c := finishedCondition(job); c != nil {
		// Finished: release what is left, then wait for the TTL.
		if err := r.removeFinalizers(ctx, pods, nil); err != nil {
			return ctrl.Result{}, err
		}
		return r.expire(ctx, job, c, now)
	}
	st := job.Status.DeepCopy()
	if perIndex(job) && st.FailedIndexes == nil {
		st.FailedIndexes = new("")
	}
	failJob, err := r.track(ctx, job, st, pods, now)
	if err != nil {
		return ctrl.Result{}, err
	}

	var active, terminating []*corev1.Pod
	for _, p := range pods {
		switch {
		case podcontrol.IsActive(p):
			active = append(active, p)
		case podcontrol.IsTerminating(p):
			terminating = append(terminating, p)
		}
	}
	suspended := job.Spec.Suspend != nil && *job.Spec.Suspend
	if st.StartTime == nil && !suspended {
		st.StartTime = &metav1.Time{Time: now}
	}
	var requeue time.Duration

	// Has the Job failed or succeeded?
	reason, message := "", ""
	indexesReason, indexesMessage := "", ""
	if perIndex(job) {
		indexesReason, indexesMessage = failedIndexesVerdict(job, st)
	}
	switch {
	case failJob != "":
		reason, message = batchv1.JobReasonPodFailurePolicy, failJob
	case indexesReason != "":
		reason, message = indexesReason, indexesMessage
	case backoffExceeded(job, st, active):
		reason, message = batchv1.JobReasonBackoffLimitExceeded, "Job has reached the specified backoff limit"
	case job.Spec.ActiveDeadlineSeconds != nil && st.StartTime != nil && !suspended:
		deadline := st.StartTime.Add(time.Duration(*job.Spec.ActiveDeadlineSeconds) * time.Second)
		if !now.Before(deadline) {
			reason, message = batchv1.JobReasonDeadlineExceeded, "Job was active longer than specified deadline"
		} else {
			requeue = deadline.Sub(now)
		}
	}
	okReason, okMessage := r.successCriteria(job, st, active)
	if reason != "" || okReason != "" || hasCondition(job, batchv1.JobFailureTarget) || hasCondition(job, batchv1.JobSuccessCriteriaMet) {
		return r.finish(ctx, job, st, active, terminating, reason, message, okReason, okMessage, now)
	}

	// Suspended Jobs run nothing.
	if suspended {
		if err := r.deletePods(ctx, job, active, len(active)); err != nil {
			return ctrl.Result{}, err
		}
		if cur := condition(st, batchv1.JobSuspended); cur == nil || cur.Status != corev1.ConditionTrue {
			r.recorder.Eventf(job, nil, corev1.EventTypeNormal, "Suspended", "Suspend", "Job suspended")
		}
		setCondition(st, batchv1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended", now)
		st.StartTime = nil
		st.Active = 0
		return ctrl.Result{}, r.writeStatus(ctx, job, st, active, terminating)
	}
	if cur := condition(st, batchv1.JobSuspended); cur != nil && cur.Status == corev1.ConditionTrue {
		setCondition(st, batchv1.JobSuspended, corev1.ConditionFalse, "JobResumed", "Job resumed", now)
		r.recorder.Eventf(job, nil, corev1.EventTypeNormal, "Resumed", "Resume", "Job resumed")
	}

	if satisfied {
		wait, err := r.manage(ctx, job, st, pods, active, terminating, now)
		if err != nil {
			_ = r.writeStatus(ctx, job, st, active, terminating)
			return ctrl.Result{}, err
		}
		if wait > 0 && (requeue == 0 || wait < requeue) {
			requeue = wait
		}
	}
	if err := r.writeStatus(ctx, job, st, active, terminating); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}

func parallelism(j *batchv1.Job) int {
	if j.Spec.Parallelism == nil {
		return 1
	}
	return int(*j.Spec.Parallelism)
}

func indexed(j *batchv1.Job) bool {
	return j.Spec.CompletionMode != nil && *j.Spec.CompletionMode == batchv1.IndexedCompletion
}

// successCriteria says whether the Job succeeded, and why: a rule of its
// success policy matched (Indexed Jobs), or enough pods succeeded (all
// indexes; completions; any, once none runs, without completions).
func (r *reconciler) successCriteria(j *batchv1.Job, st *batchv1.JobStatus, active []*corev1.Pod) (string, string) {
	completions := 0
	if j.Spec.Completions != nil {
		completions = int(*j.Spec.Completions)
	}
	if indexed(j) {
		done := parseIndexes(st.CompletedIndexes, completions)
		if p := j.Spec.SuccessPolicy; p != nil {
			for i, rule := range p.Rules {
				if successRuleMet(rule, done, completions) {
					return batchv1.JobReasonSuccessPolicy, fmt.Sprintf("Matched rules at index %d", i)
				}
			}
		}
		if completions > 0 && len(done) == completions {
			return batchv1.JobReasonCompletionsReached, "Reached expected number of succeeded pods"
		}
		return "", ""
	}
	if (j.Spec.Completions != nil && st.Succeeded >= *j.Spec.Completions) || (j.Spec.Completions == nil && st.Succeeded > 0 && len(active) == 0) {
		return batchv1.JobReasonCompletionsReached, "Reached expected number of succeeded pods"
	}
	return "", ""
}

// successRuleMet: the rule's indexes all succeeded, or (with
// succeededCount) at least that many of them (of all indexes, without
// succeededIndexes).
func successRuleMet(rule batchv1.SuccessPolicyRule, done indexSet, completions int) bool {
	scope := indexSet{}
	if rule.SucceededIndexes != nil {
		scope = parseIndexes(*rule.SucceededIndexes, completions)
	} else {
		for i := range completions {
			scope[i] = true
		}
	}
	n := 0
	for i := range scope {
		if done[i] {
			n++
		}
	}
	if rule.SucceededCount != nil {
		return n >= int(*rule.SucceededCount)
	}
	return rule.SucceededIndexes != nil && n == len(scope) && n > 0
}

func backoffExceeded(j *batchv1.Job, st *batchv1.JobStatus, active []*corev1.Pod) bool {
	limit := int32(6)
	if j.Spec.BackoffLimit != nil {
		limit = *j.Spec.BackoffLimit
	}
	if j.Spec.Template.Spec.RestartPolicy == corev1.RestartPolicyOnFailure {
		var restarts int32
		for _, p := range active {
			for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
				for _, c := range list {
					restarts += c.RestartCount
				}
			}
		}
		if (limit == 0 && restarts > 0) || (limit > 0 && restarts >= limit) {
			return true
		}
	}
	return st.Failed > limit
}

// finish ends the Job: the interim condition (FailureTarget or
// SuccessCriteriaMet) first, the final one once its pods are gone.
func (r *reconciler) finish(ctx context.Context, job *batchv1.Job, st *batchv1.JobStatus, active, terminating []*corev1.Pod,
	reason, message, okReason, okMessage string, now time.Time) (ctrl.Result, error) {
	failing := reason != "" || hasCondition(job, batchv1.JobFailureTarget)
	if failing {
		if !hasCondition(job, batchv1.JobFailureTarget) {
			setCondition(st, batchv1.JobFailureTarget, corev1.ConditionTrue, reason, message, now)
		}
		c := condition(st, batchv1.JobFailureTarget)
		reason, message = c.Reason, c.Message
	} else {
		if !hasCondition(job, batchv1.JobSuccessCriteriaMet) {
			setCondition(st, batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue, okReason, okMessage, now)
		}
		c := condition(st, batchv1.JobSuccessCriteriaMet)
		reason, message = c.Reason, c.Message
	}
	if err := r.deletePods(ctx, job, active, len(active)); err != nil {
		return ctrl.Result{}, err
	}
	if len(active) == 0 && len(terminating) == 0 && uncounted(st) == 0 {
		if failing {
			setCondition(st, batchv1.JobFailed, corev1.ConditionTrue, reason, message, now)
			r.recorder.Eventf(job, nil, corev1.EventTypeWarning, reason, "Fail", "%s", message)
		} else {
			setCondition(st, batchv1.JobComplete, corev1.ConditionTrue, reason, message, now)
			st.CompletionTime = &metav1.Time{Time: now}
			r.recorder.Eventf(job, nil, corev1.EventTypeNormal, "Completed", "Complete", "Job completed")
		}
		if err := r.writeStatus(ctx, job, st, nil, nil); err != nil {
			return ctrl.Result{}, err
		}
		if _, c := finishedCondition(job); c != nil {
			return r.expire(ctx, job, c, now)
		}
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, r.writeStatus(ctx, job, st, active, terminating)
}

// expire deletes a finished Job once its ttlSecondsAfterFinished passed.
func (r *reconciler) expire(ctx context.Context, job *batchv1.Job, c *batchv1.JobCondition, now time.Time) (ctrl.Result, error) {
	if job.Spec.TTLSecondsAfterFinished == nil || job.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	finished := c.LastTransitionTime.Time
	if job.Status.CompletionTime != nil {
		finished = job.Status.CompletionTime.Time
	}
	at := finished.Add(time.Duration(*job.Spec.TTLSecondsAfterFinished) * time.Second)
	if now.Before(at) {
		return ctrl.Result{RequeueAfter: at.Sub(now)}, nil
	}
	uid := job.UID
	err := r.client.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationForeground), client.Preconditions{UID: &uid})
	return ctrl.Result{}, client.IgnoreNotFound(err)
}

// manage creates or deletes pods to run the parallelism the Job wants,
// after the back-off that follows failures. It returns how long to wait
// before creating more.
func (r *reconciler) manage(ctx context.Context, job *batchv1.Job, st *batchv1.JobStatus, pods, active, terminating []*corev1.Pod, now time.Time) (time.Duration, error) {
	key := types.NamespacedName{Namespace: job.Namespace, Name: job.Name}.String()
	running := len(active)
	// With podReplacementPolicy Failed (or a pod failure policy), a
	// terminating pod is replaced only once it is gone.
	if job.Spec.PodReplacementPolicy != nil && *job.Spec.PodReplacementPolicy == batchv1.Failed {
		running += len(terminating)
	}
	want := parallelism(job)
	var indexes []int
	var indexWait time.Duration
	var indexFailureCounts map[int]int
	if indexed(job) {
		completions := int(*job.Spec.Completions)
		done := parseIndexes(st.CompletedIndexes, completions)
		busy := map[int]bool{}
		var dup []*corev1.Pod
		for _, p := range append(append([]*corev1.Pod{}, active...), terminating...) {
			i, ok := podIndex(p)
			if !ok || i >= completions || done[i] || (busy[i] && podcontrol.IsActive(p)) {
				if podcontrol.IsActive(p) {
					dup = append(dup, p)
				}
				continue
			}
			busy[i] = true
		}
		if len(dup) > 0 {
			return 0, r.deletePods(ctx, job, dup, len(dup))
		}
		var failed indexSet
		var failures map[int]int
		var lastFailed map[int]time.Time
		if perIndex(job) {
			failed = parseIndexes(ptrValue(st.FailedIndexes), completions)
			failures, lastFailed = failuresByIndex(job, pods)
		}
		for i := 0; i < completions; i++ {
			if done[i] || busy[i] || failed[i] {
				continue
			}
			// Each index backs off after its own failures.
			if wait := indexBackOff(failures[i], lastFailed[i], now); wait > 0 {
				if indexWait == 0 || wait < indexWait {
					indexWait = wait
				}
				continue
			}
			indexes = append(indexes, i)
		}
		indexFailureCounts = failures
		want = min(want, running+len(indexes))
	} else {
		// Succeeded pods still in uncountedTerminatedPods count too, as
		// upstream: without them a pod too many could start, to be deleted
		// (and counted failed) once they are.
		succeeded := int(st.Succeeded)
		if u := st.UncountedTerminatedPods; u != nil {
			succeeded += len(u.Succeeded)
		}
		if job.Spec.Completions != nil {
			want = min(want, int(*job.Spec.Completions)-succeeded)
		} else if succeeded > 0 {
			want = 0 // a work queue: once one succeeded, no new pods
		}
	}
	diff := want - running
	switch {
	case diff < 0:
		podcontrol.SortForDeletion(active)
		return 0, r.deletePods(ctx, job, active, min(-diff, len(active)))
	case diff == 0:
		return indexWait, nil
	}
	// Back off after failures (per index with backoffLimitPerIndex, above).
	r.mu.Lock()
	rec := r.backOff[key]
	r.mu.Unlock()
	if rec.failures > 0 && !perIndex(job) {
		delay := initialBackOff
		for i := 1; i < rec.failures && delay < maxBackOff; i++ {
			delay *= 2
		}
		if next := rec.last.Add(min(delay, maxBackOff)); now.Before(next) {
			return next.Sub(now), nil
		}
	}
	n := min(diff, 500)
	if indexes != nil {
		n = min(n, len(indexes))
	}
	r.exp.ExpectCreations(key, n)
	var mu sync.Mutex
	next := 0
	ref := podcontrol.ControllerRef(job, gvk)
	attempted, _, err := podcontrol.SlowStart(n, func() error {
		pod := podcontrol.FromTemplate(&job.Spec.Template, job.Namespace, job.Name+"-", ref)
		pod.Finalizers = append(pod.Finalizers, batchv1.JobTrackingFinalizer)
		if indexes != nil {
			mu.Lock()
			idx := indexes[next]
			next++
			mu.Unlock()
			setIndex(job, pod, idx)
			if perIndex(job) {
				pod.Annotations[batchv1.JobIndexFailureCountAnnotation] = strconv.Itoa(indexFailureCounts[idx])
			}
		}
		if err := r.client.Create(ctx, pod); err != nil {
			r.exp.CreationObserved(key)
			if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				return nil
			}
			r.recorder.Eventf(job, nil, corev1.EventTypeWarning, "FailedCreate", "Create", "Error creating: %v", err)
			return err
		}
		r.recorder.Eventf(job, pod, corev1.EventTypeNormal, "SuccessfulCreate", "Create", "Created pod: %s", pod.Name)
		return nil
	})
	for range n - attempted {
		r.exp.CreationObserved(key)
	}
	return indexWait, err
}

func podIndex(p *corev1.Pod) (int, bool) {
	v, ok := p.Annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(v)
	return i, err == nil && i >= 0
}

// setIndex makes a pod the one of a completion index: its annotation and
// label, name, hostname and JOB_COMPLETION_INDEX.
func setIndex(job *batchv1.Job, pod *corev1.Pod, idx int) {
	s := strconv.Itoa(idx)
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Annotations[batchv1.JobCompletionIndexAnnotation] = s
	pod.Labels[batchv1.JobCompletionIndexAnnotation] = s
	pod.GenerateName = fmt.Sprintf("%s-%d-", job.Name, idx)
	if pod.Spec.Hostname == "" {
		pod.Spec.Hostname = fmt.Sprintf("%s-%d", job.Name, idx)
	}
	env := corev1.EnvVar{Name: "JOB_COMPLETION_INDEX", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
		FieldPath: fmt.Sprintf("metadata.annotations['%s']", batchv1.JobCompletionIndexAnnotation)}}}
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			if !slices.ContainsFunc(list[i].Env, func(e corev1.EnvVar) bool { return e.Name == env.Name }) {
				list[i].Env = append(list[i].Env, env)
			}
		}
	}
}

func (r *reconciler) deletePods(ctx context.Context, job *batchv1.Job, pods []*corev1.Pod, n int) error {
	key := types.NamespacedName{Namespace: job.Namespace, Name: job.Name}.String()
	var first error
	for _, p := range pods[:n] {
		r.exp.ExpectDeletion(key, p.UID)
		uid := p.UID
		if err := r.client.Delete(ctx, p, client.Preconditions{UID: &uid}); err != nil {
			r.exp.DeletionObserved(key, p.UID)
			if !apierrors.IsNotFound(err) && first == nil {
				first = err
			}
			continue
		}
		r.recorder.Eventf(job, p, corev1.EventTypeNormal, "SuccessfulDelete", "Delete", "Deleted pod: %s", p.Name)
	}
	return first
}

func uncounted(st *batchv1.JobStatus) int {
	if st.UncountedTerminatedPods == nil {
		return 0
	}
	return len(st.UncountedTerminatedPods.Succeeded) + len(st.UncountedTerminatedPods.Failed)
}

// track counts finished pods exactly once: their UIDs go to
// status.uncountedTerminatedPods, their tracking finalizers come off,
// then they move to the counters. It returns a FailJob message when a
// pod failure policy rule says the Job fails.
func (r *reconciler) track(ctx context.Context, job *batchv1.Job, st *batchv1.JobStatus, pods []*corev1.Pod, now time.Time) (string, error) {
	if st.UncountedTerminatedPods == nil {
		st.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	u := st.UncountedTerminatedPods
	listed := sets.New[types.UID]()
	listed.Insert(u.Succeeded...)
	listed.Insert(u.Failed...)
	key := types.NamespacedName{Namespace: job.Namespace, Name: job.Name}.String()
	failJob := ""
	added := false
	for _, p := range pods {
		if !slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer) || listed.Has(p.UID) {
			continue
		}
		finished := p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
		// A pod deleted before it finished counts as failed.
		deleted := p.DeletionTimestamp != nil && !finished
		if !finished && !deleted {
			continue
		}
		if deleted && job.Spec.PodFailurePolicy == nil && job.Spec.PodReplacementPolicy != nil && *job.Spec.PodReplacementPolicy == batchv1.Failed {
			continue // counted when it is gone
		}
		if p.Status.Phase == corev1.PodSucceeded {
			u.Succeeded = append(u.Succeeded, p.UID)
			r.mu.Lock()
			r.backOff[key] = backOffRecord{}
			r.mu.Unlock()
		} else {
			action, msg := failurePolicy(job, p)
			switch action {
			case batchv1.PodFailurePolicyActionIgnore:
				// Not counted, and not held.
				listed.Insert(p.UID)
				if err := r.removeFinalizers(ctx, []*corev1.Pod{p}, nil); err != nil {
					return "", err
				}
				continue
			case batchv1.PodFailurePolicyActionFailJob:
				failJob = msg
			}
			if perIndex(job) {
				failIndex(job, st, p, action)
			}
			u.Failed = append(u.Failed, p.UID)
			r.mu.Lock()
			rec := r.backOff[key]
			rec.failures++
			rec.last = now
			r.backOff[key] = rec
			r.mu.Unlock()
		}
		listed.Insert(p.UID)
		added = true
	}
	if added {
		if err := r.writeStatusOnly(ctx, job, st); err != nil {
			return "", err
		}
	}
	// With the UIDs recorded, the finalizers may go; then the counters
	// take them over.
	if err := r.removeFinalizers(ctx, pods, listed); err != nil {
		return "", err
	}
	byUID := map[types.UID]*corev1.Pod{}
	for _, p := range pods {
		byUID[p.UID] = p
	}
	var completions int
	if job.Spec.Completions != nil {
		completions = int(*job.Spec.Completions)
	}
	done := parseIndexes(st.CompletedIndexes, completions)
	keep := func(list []types.UID, count func(types.UID)) []types.UID {
		var out []types.UID
		for _, uid := range list {
			if p, ok := byUID[uid]; ok && slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer) {
				out = append(out, uid) // its finalizer removal has not shown yet
				continue
			}
			count(uid)
		}
		return out
	}
	u.Succeeded = keep(u.Succeeded, func(uid types.UID) {
		if indexed(job) {
			if p, ok := byUID[uid]; ok {
				if i, ok := podIndex(p); ok && i < completions {
					done[i] = true
				}
			}
			return
		}
		st.Succeeded++
	})
	u.Failed = keep(u.Failed, func(types.UID) { st.Failed++ })
	if indexed(job) {
		st.CompletedIndexes = done.String()
		st.Succeeded = int32(len(done))
	}
	return failJob, nil
}

// removeFinalizers takes the tracking finalizer off the pods (only those
// in only, when given).
func (r *reconciler) removeFinalizers(ctx context.Context, pods []*corev1.Pod, only sets.Set[types.UID]) error {
	for _, p := range pods {
		if !slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer) || (only != nil && !only.Has(p.UID)) {
			continue
		}
		finalizers := slices.DeleteFunc(slices.Clone(p.Finalizers), func(f string) bool { return f == batchv1.JobTrackingFinalizer })
		if finalizers == nil {
			finalizers = []string{}
		}
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"finalizers": finalizers, "resourceVersion": p.ResourceVersion}})
		if err := r.client.Patch(ctx, p, client.RawPatch(types.MergePatchType, patch)); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("removing the tracking finalizer of pod %s: %w", p.Name, err)
		}
		p.Finalizers = finalizers
	}
	return nil
}

// failurePolicy applies the Job's pod failure policy to a failed pod.
func failurePolicy(job *batchv1.Job, p *corev1.Pod) (batchv1.PodFailurePolicyAction, string) {
	if job.Spec.PodFailurePolicy == nil {
		return batchv1.PodFailurePolicyActionCount, ""
	}
	for i, rule := range job.Spec.PodFailurePolicy.Rules {
		if req := rule.OnExitCodes; req != nil {
			for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
				for _, cs := range list {
					t := cs.State.Terminated
					if t == nil || t.ExitCode == 0 || (req.ContainerName != nil && *req.ContainerName != cs.Name) {
						continue
					}
					in := slices.Contains(req.Values, t.ExitCode)
					if (req.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn) == in {
						return rule.Action, fmt.Sprintf("Container %s for pod %s/%s failed with exit code %d matching %s rule at index %d",
							cs.Name, p.Namespace, p.Name, t.ExitCode, rule.Action, i)
					}
				}
			}
		}
		for _, pat := range rule.OnPodConditions {
			for _, c := range p.Status.Conditions {
				if c.Type == pat.Type && c.Status == pat.Status {
					return rule.Action, fmt.Sprintf("Pod %s/%s has condition %s matching %s rule at index %d", p.Namespace, p.Name, c.Type, rule.Action, i)
				}
			}
		}
	}
	return batchv1.PodFailurePolicyActionCount, ""
}

func condition(st *batchv1.JobStatus, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

func setCondition(st *batchv1.JobStatus, t batchv1.JobConditionType, status corev1.ConditionStatus, reason, msg string, now time.Time) {
	c := batchv1.JobCondition{Type: t, Status: status, Reason: reason, Message: msg,
		LastProbeTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now)}
	if cur := condition(st, t); cur != nil {
		if cur.Status == status {
			c.LastTransitionTime = cur.LastTransitionTime
		}
		*cur = c
		return
	}
	st.Conditions = append(st.Conditions, c)
}

// writeStatus adds the pod counts to the status and writes it if changed.
func (r *reconciler) writeStatus(ctx context.Context, job *batchv1.Job, st *batchv1.JobStatus, active, terminating []*corev1.Pod) error {
	st.Active = int32(len(active))
	var ready int32
	for _, p := range active {
		if podcontrol.IsReady(p) {
			ready++
		}
	}
	st.Ready = &ready
	st.Terminating = new(int32(len(terminating)))
	return r.writeStatusOnly(ctx, job, st)
}

func (r *reconciler) writeStatusOnly(ctx context.Context, job *batchv1.Job, st *batchv1.JobStatus) error {
	if apiequality.Semantic.DeepEqual(job.Status, *st) {
		return nil
	}
	updated := job.DeepCopy()
	updated.Status = *st
	if err := r.client.Status().Update(ctx, updated); err != nil {
		return fmt.Errorf("updating status: %w", err)
	}
	job.Status = updated.Status
	job.ResourceVersion = updated.ResourceVersion
	return nil
}
