// Package envtest proves that skiff is an envtest control plane: a ginkgo
// suite starts controller-runtime's envtest with KUBEBUILDER_ASSETS holding
// links to skiff (as kube-apiserver and etcd), installs a CRD from a
// directory and runs a manager whose reconciler works on a custom resource
// and the ConfigMaps it owns.
package envtest
