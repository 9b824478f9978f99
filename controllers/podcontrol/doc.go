// Package podcontrol holds what the workload controllers share about the
// pods they own: making a pod from a template, adopting and releasing
// pods by selector and controller reference, readiness and availability,
// and the order in which surplus pods are deleted.
package podcontrol
