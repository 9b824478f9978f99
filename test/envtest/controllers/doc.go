// Package controllers tests skiff's control loops the way operator
// authors test theirs: a ginkgo suite starts envtest with skiff as its
// kube-apiserver and etcd, runs skiff's controller manager and simulated
// node agents in the test process, and checks what users see through the
// API (pods placed and Running, status counts, conditions, events, node
// heartbeats, taints and evictions).
package controllers
