// Package rootca publishes the cluster's CA bundle as the ConfigMap
// kube-root-ca.crt in every namespace, as kube-controller-manager's
// root-ca-cert-publisher does; pods' projected service account volumes
// read it to trust the API server.
package rootca
