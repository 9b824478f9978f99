// Package v1 holds skiff's behaviour for apps/v1: scheme installation,
// defaults, validation and kubectl table columns of Deployments,
// ReplicaSets, StatefulSets, DaemonSets and ControllerRevisions, following
// upstream Kubernetes' rules.
package v1
