// Package kubelet is skiff's node agent: it registers Nodes, renews their
// Leases in kube-node-lease, reports node status, and runs the pods bound
// to its nodes through a Runtime, reporting their status back as the
// upstream kubelet does (phases, conditions, container states, restarts
// with back-off, graceful deletion).
//
// One Host runs one or more nodes with shared informers: `skiff agent`
// runs one node on containerd, `skiff server --sim-nodes N` runs N nodes
// on the simulated runtime of package sim. The pod lifecycle logic lives
// here, above the Runtime interface, so every runtime shares it.
package kubelet
