// Package disruption is the disruption controller: it keeps each
// PodDisruptionBudget's status (expected, desired and current healthy
// pods, the disruptions allowed, the DisruptionAllowed condition) up to
// date from the pods its selector matches and, for percentages, the scale
// of their controllers, and forgets the evictions recorded in
// status.disruptedPods once the pods are going or after two minutes, as
// kube-controller-manager's. The eviction subresource relies on it: it
// refuses evictions (429) while a budget's status is not current.
package disruption
