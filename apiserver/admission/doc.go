// Package admission holds the admission plugins of kube-apiserver's
// default chain that shape what users see in their objects, written for
// skiff (upstream's live in k8s.io/kubernetes): DefaultTolerationSeconds,
// Priority, DefaultStorageClass, DefaultIngressClass and
// TaintNodesByCondition. NamespaceLifecycle comes from k8s.io/apiserver.
package admission
