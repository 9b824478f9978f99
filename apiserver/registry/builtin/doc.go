// Package builtin lists the built-in resources skiff serves, group by
// group, as registry.Resource descriptions: which kinds, their names,
// scopes, subresources, and the defaulting, validation and printing
// functions from apis/ that apply to them.
package builtin
