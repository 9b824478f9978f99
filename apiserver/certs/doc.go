// Package certs creates and loads the server's PKI in its data directory:
// a cluster CA, the API server's serving certificate and the admin client
// certificate, and writes the admin kubeconfig that points at them. Files
// that already exist are reused, so a restart keeps the same identities.
package certs
