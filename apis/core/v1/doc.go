// Package v1 holds skiff's behaviour for the core/v1 API group: scheme
// installation, defaults, validation and the kubectl table columns of pods,
// services, namespaces, nodes, config maps, secrets and the other core
// types. It follows upstream Kubernetes' rules for these types; the Go types
// themselves are k8s.io/api/core/v1's.
package v1
