// Package job is the Job controller: it runs a Job's pods to completion
// as upstream does: completions and parallelism, NonIndexed and Indexed
// completion modes (completion index annotation, label, hostname and
// JOB_COMPLETION_INDEX), successPolicy rules, backoffLimit with exponential back-off between
// failed pods, podFailurePolicy, activeDeadlineSeconds, suspend and
// resume, podReplacementPolicy, finished pods counted through the
// batch.kubernetes.io/job-tracking finalizer (so deleted pods are never
// counted twice or lost), the SuccessCriteriaMet/Complete and
// FailureTarget/Failed conditions, and ttlSecondsAfterFinished.
package job
