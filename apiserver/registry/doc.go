// Package registry turns a declarative description of a built-in resource
// (its kind, scope, names, validation, defaults, printer columns and
// subresources) into k8s.io/apiserver storage: a genericregistry.Store backed
// by etcd with its strategy, plus the status and scale subresources.
//
// Type-specific behaviour lives in apis/<group>/<version>; this package only
// wires it into the generic machinery, so that every resource gets the same
// watch, pagination, selectors, server-side apply and dry-run handling.
package registry
