// Package rbac authorizes requests by Kubernetes RBAC: the roles, cluster
// roles and bindings stored in the API, evaluated with upstream's rules
// (verbs, API groups, resources and subresources, resource names,
// non-resource URLs, users, groups and service accounts, aggregated
// cluster roles). It reads them through shared informers.
package rbac
