// Package bootstrappolicy holds the RBAC roles and bindings every skiff
// cluster starts with, the same that upstream Kubernetes creates:
// cluster-admin, admin, edit and view (built by aggregation), and the
// system roles for discovery, basic users, public information and
// monitoring. The API server reconciles them at every start.
package bootstrappolicy
