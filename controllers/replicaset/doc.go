// Package replicaset is the ReplicaSet controller: it keeps the number of
// active pods matching a ReplicaSet's selector at spec.replicas, adopting
// orphans and releasing pods that stop matching, and reports replicas,
// fullyLabeledReplicas, readyReplicas, availableReplicas (minReadySeconds),
// terminatingReplicas and the ReplicaFailure condition as upstream does.
package replicaset
