// Package nodelifecycle watches node heartbeats and acts on missed ones,
// as kube-controller-manager's node lifecycle, taint eviction and pod GC
// controllers do: a node whose Lease is not renewed within the grace
// period gets its conditions set to Unknown; nodes carry the
// not-ready/unreachable/unschedulable taints their state calls for; pods
// on nodes with NoExecute taints they do not tolerate are deleted (after
// their tolerationSeconds); pods bound to nodes that no longer exist are
// removed.
package nodelifecycle
