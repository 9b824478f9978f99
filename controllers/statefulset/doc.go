// Package statefulset is the StatefulSet controller: pods with stable
// ordinal names (spec.ordinals.start), hostnames under the governing
// Service and per-ordinal PersistentVolumeClaims from volumeClaimTemplates
// (with the whenDeleted retention policy); OrderedReady and Parallel management;
// RollingUpdate (highest ordinal first, honouring partition) and OnDelete
// through ControllerRevisions; and the StatefulSet status (current and
// update revisions and replica counts) that kubectl rollout reads.
//
// No storage provisioner exists yet: the claims are created as upstream
// does, and stay Pending.
package statefulset
