// Package namespace empties namespaces being deleted, as
// kube-controller-manager's namespace controller does: it deletes every
// namespaced object in them (custom resources too), reports progress in
// the namespace's status conditions, and once nothing is left removes the
// "kubernetes" finalizer through namespaces/finalize so the namespace goes.
package namespace
