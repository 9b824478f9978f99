// Package deployment is the Deployment controller: it rolls a
// Deployment's pod template out through ReplicaSets named after the
// template's hash (pod-template-hash), with the RollingUpdate
// (maxSurge/maxUnavailable) or Recreate strategy, keeps revision
// annotations that `kubectl rollout history|undo` read, scales
// proportionally, honours spec.paused, cleans up old ReplicaSets beyond
// revisionHistoryLimit, and reports status with the Available and
// Progressing conditions (progressDeadlineSeconds) as upstream does.
package deployment
