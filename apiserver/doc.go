// Package apiserver assembles skiff's Kubernetes API server from the
// upstream libraries: a k8s.io/apiserver generic server that hosts the
// built-in API groups (storage built by package registry from the types'
// behaviour in apis/), chained in front of the apiextensions-apiserver that
// serves CustomResourceDefinitions and custom resources, both stored in
// etcd. It follows the Options → Config → CompletedConfig → Server shape of
// kubernetes/sample-apiserver.
package apiserver
