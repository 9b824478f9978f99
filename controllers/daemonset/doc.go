// Package daemonset is the DaemonSet controller: one pod per eligible
// node (node selector, required node affinity, taints against the pod's
// tolerations plus the ones upstream adds to daemon pods), nodes added
// later included; pods are bound by the scheduler through a node-name
// affinity, as upstream; RollingUpdate with maxUnavailable and maxSurge
// or OnDelete; ControllerRevisions for `kubectl rollout history|undo`;
// and the DaemonSet status counts.
package daemonset
