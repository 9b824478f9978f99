// Package garbagecollector deletes objects whose owners are gone, as
// kube-controller-manager's garbage collector does. It watches the
// metadata of every resource that can be listed, watched and deleted
// (custom resources included, rediscovered as CRDs come and go), keeps a
// graph of owner references, and acts on it:
//
//   - an object all of whose owners are gone is deleted (in the
//     background, or in the foreground when an owner waits for it);
//     references to owners that are gone are dropped while others remain;
//   - an owner deleted with propagationPolicy Orphan (the "orphan"
//     finalizer) has its references removed from its dependents before it
//     goes;
//   - an owner deleted with propagationPolicy Foreground (the
//     "foregroundDeletion" finalizer) goes only after its dependents with
//     blockOwnerDeletion are gone.
package garbagecollector
