package job

import (
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// Per-index back-off (spec.backoffLimitPerIndex, Indexed Jobs): each
// index has its own count of failures, carried by its pods in the
// batch.kubernetes.io/job-index-failure-count annotation. An index that
// fails more often than the limit, or whose pod matches a FailIndex rule
// of the pod failure policy, is recorded in status.failedIndexes and not
// run again; the Job fails once more indexes failed than maxFailedIndexes
// allows, or once every index has either succeeded or failed.

func perIndex(j *batchv1.Job) bool {
	return indexed(j) && j.Spec.BackoffLimitPerIndex != nil
}

// indexFailures is how often a pod's index failed before the pod was
// created (its job-index-failure-count annotation).
func indexFailures(p *corev1.Pod) int {
	n, err := strconv.Atoi(p.Annotations[batchv1.JobIndexFailureCountAnnotation])
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// failuresByIndex counts each index's failures so far (one more than the
// annotation of each failed pod that counts, the highest per index) and
// when the last of them happened.
func failuresByIndex(job *batchv1.Job, pods []*corev1.Pod) (map[int]int, map[int]time.Time) {
	counts, last := map[int]int{}, map[int]time.Time{}
	completions := int(*job.Spec.Completions)
	for _, p := range pods {
		i, ok := podIndex(p)
		if !ok || i >= completions || p.Status.Phase != corev1.PodFailed {
			continue
		}
		if action, _ := failurePolicy(job, p); action == batchv1.PodFailurePolicyActionIgnore {
			continue
		}
		counts[i] = max(counts[i], indexFailures(p)+1)
		if t := lastFailure(p); t.After(last[i]) {
			last[i] = t
		}
	}
	return counts, last
}

// failIndex records a failed pod's index in status.failedIndexes when
// the index has used up its back-off limit, or a FailIndex rule matched.
func failIndex(job *batchv1.Job, st *batchv1.JobStatus, p *corev1.Pod, action batchv1.PodFailurePolicyAction) {
	i, ok := podIndex(p)
	completions := int(*job.Spec.Completions)
	if !ok || i >= completions {
		return
	}
	if action != batchv1.PodFailurePolicyActionFailIndex && indexFailures(p)+1 <= int(*job.Spec.BackoffLimitPerIndex) {
		return
	}
	failed := parseIndexes(ptrValue(st.FailedIndexes), completions)
	failed[i] = true
	s := failed.String()
	st.FailedIndexes = &s
}

// failedIndexesVerdict says whether the failed indexes fail the Job, and
// with which reason: too many of them, or no index left to run.
func failedIndexesVerdict(job *batchv1.Job, st *batchv1.JobStatus) (string, string) {
	completions := int(*job.Spec.Completions)
	failed := parseIndexes(ptrValue(st.FailedIndexes), completions)
	if len(failed) == 0 {
		return "", ""
	}
	if m := job.Spec.MaxFailedIndexes; m != nil && len(failed) > int(*m) {
		return batchv1.JobReasonMaxFailedIndexesExceeded, "Job has exceeded the specified maximal number of failed indexes"
	}
	done := parseIndexes(st.CompletedIndexes, completions)
	for i := range completions {
		if !done[i] && !failed[i] {
			return "", ""
		}
	}
	return batchv1.JobReasonFailedIndexes, "Job has failed indexes"
}

// indexBackOff is how long index i still waits before its next pod, after
// failures failures, the last at last: 10 s doubling, at most 6 min, as
// the Job-wide back-off.
func indexBackOff(failures int, last, now time.Time) time.Duration {
	if failures == 0 {
		return 0
	}
	delay := initialBackOff
	for i := 1; i < failures && delay < maxBackOff; i++ {
		delay *= 2
	}
	if next := last.Add(min(delay, maxBackOff)); now.Before(next) {
		return next.Sub(now)
	}
	return 0
}

// lastFailure is when a failed pod stopped: its containers' latest
// finish, or its deletion, or zero.
func lastFailure(p *corev1.Pod) time.Time {
	var t time.Time
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, c := range list {
			if c.State.Terminated != nil && c.State.Terminated.FinishedAt.After(t) {
				t = c.State.Terminated.FinishedAt.Time
			}
		}
	}
	if t.IsZero() && p.DeletionTimestamp != nil {
		t = p.DeletionTimestamp.Time
	}
	return t
}

func ptrValue(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
