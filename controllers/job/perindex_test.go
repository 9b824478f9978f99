package job

import (
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func perIndexJob(limit int32, maxFailed *int32) *batchv1.Job {
	completions := int32(4)
	return &batchv1.Job{Spec: batchv1.JobSpec{Completions: &completions, CompletionMode: new(batchv1.IndexedCompletion),
		BackoffLimitPerIndex: &limit, MaxFailedIndexes: maxFailed,
		PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
			{Action: batchv1.PodFailurePolicyActionIgnore, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{9}}},
			{Action: batchv1.PodFailurePolicyActionFailIndex, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}},
		}}}}
}

func failedPod(index string, priorFailures string, exitCode int32, finished time.Time) *corev1.Pod {
	ann := map[string]string{batchv1.JobCompletionIndexAnnotation: index}
	if priorFailures != "" {
		ann[batchv1.JobIndexFailureCountAnnotation] = priorFailures
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: ann}, Status: corev1.PodStatus{Phase: corev1.PodFailed,
		ContainerStatuses: []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: exitCode, FinishedAt: metav1.NewTime(finished)}}}}}}
}

func TestPerIndexFailures(t *testing.T) {
	job := perIndexJob(1, nil)
	now := time.Date(2026, 11, 27, 14, 0, 0, 0, time.UTC)
	pods := []*corev1.Pod{
		failedPod("0", "", 1, now), failedPod("0", "1", 1, now), // index 0 failed twice
		failedPod("1", "", 9, now), // ignored by the failure policy
		failedPod("2", "", 1, now.Add(-time.Minute)),
	}
	got, last := failuresByIndex(job, pods)
	if len(got) != 2 || got[0] != 2 || got[2] != 1 {
		t.Errorf("failures by index %v, want 0:2 2:1", got)
	}
	if len(last) != 2 || !last[0].Equal(now) || !last[2].Equal(now.Add(-time.Minute)) {
		t.Errorf("last failures %v", last)
	}

	st := &batchv1.JobStatus{}
	failIndex(job, st, pods[0], batchv1.PodFailurePolicyActionCount) // first failure of 0: within the limit of 1
	if ptrValue(st.FailedIndexes) != "" {
		t.Errorf("failed indexes after a failure within the limit: %q", ptrValue(st.FailedIndexes))
	}
	failIndex(job, st, pods[1], batchv1.PodFailurePolicyActionCount) // second failure of 0: over the limit
	failIndex(job, st, failedPod("3", "", 42, now), batchv1.PodFailurePolicyActionFailIndex)
	if ptrValue(st.FailedIndexes) != "0,3" {
		t.Errorf("failed indexes %q, want 0,3", ptrValue(st.FailedIndexes))
	}

	// Indexes 1 and 2 still to run: no verdict yet; once they succeeded,
	// the Job fails for its failed indexes; past maxFailedIndexes at once.
	if reason, _ := failedIndexesVerdict(job, st); reason != "" {
		t.Errorf("verdict with indexes left: %q", reason)
	}
	st.CompletedIndexes = "1-2"
	if reason, msg := failedIndexesVerdict(job, st); reason != batchv1.JobReasonFailedIndexes || msg != "Job has failed indexes" {
		t.Errorf("verdict %q %q", reason, msg)
	}
	st.CompletedIndexes = ""
	if reason, _ := failedIndexesVerdict(perIndexJob(1, new(int32(1))), st); reason != batchv1.JobReasonMaxFailedIndexesExceeded {
		t.Errorf("verdict past maxFailedIndexes: %q", reason)
	}

	// Back-off per index: 10 s after the first failure, 20 s after the second.
	if d := indexBackOff(1, now, now.Add(4*time.Second)); d != 6*time.Second {
		t.Errorf("back-off after one failure: %s", d)
	}
	if d := indexBackOff(2, now, now.Add(15*time.Second)); d != 5*time.Second {
		t.Errorf("back-off after two failures: %s", d)
	}
	if d := indexBackOff(0, time.Time{}, now); d != 0 {
		t.Errorf("back-off without failures: %s", d)
	}
}
