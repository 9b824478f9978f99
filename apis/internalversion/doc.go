// Package internalversion registers the external k8s.io/api types of a group
// version a second time under the group's internal version.
//
// The k8s.io/apiserver installer converts every request object to an
// "internal" version before it reaches storage, and stores objects in a
// chosen external version. skiff has no internal types of its own: the same
// Go type serves both roles, so the scheme's conversion between the two is
// a plain copy and no conversion code is needed.
package internalversion
