// Package eventfilter limits how many Events a controller writes about one
// object, as upstream's event correlator does for the controllers of
// kube-controller-manager: a burst of 25 per source, object and type,
// then one every five minutes. A ReplicaSet that creates a thousand pods
// thus records its first 25 SuccessfulCreate events, not a thousand
// writes, which keeps the API server free for the pods themselves.
package eventfilter
