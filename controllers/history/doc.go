// Package history keeps the ControllerRevisions of DaemonSets and
// StatefulSets, as upstream's controller history does: one revision per
// distinct pod template, named after the template's hash, numbered in
// the order templates were used (a template used again gets the next
// number, which is what `kubectl rollout undo` relies on), holding the
// patch that restores the template, and pruned to revisionHistoryLimit.
package history
