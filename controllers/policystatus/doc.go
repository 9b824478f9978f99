// Package policystatus writes a ValidatingAdmissionPolicy's
// status.typeChecking, as kube-controller-manager's
// validatingadmissionpolicy-status controller does: each CEL expression is
// type-checked (k8s.io/apiserver's TypeChecker) against the schemas of the
// kinds the policy matches and of its parameter kind, read from the API
// server's /openapi/v3, and the warnings are written with the generation
// they are for.
package policystatus
