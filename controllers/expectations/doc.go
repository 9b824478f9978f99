// Package expectations remembers the pods a controller has just created
// or deleted until its cache has seen them, so that a reconcile running
// on a stale cache does not create or delete them a second time (the
// ControllerExpectations of kube-controller-manager).
package expectations
