// Package serviceaccount issues and verifies ServiceAccount tokens: JWTs
// signed with the API server's service account key, carrying upstream's
// claims (issuer, audiences, expiry, and the kubernetes.io claims naming
// the service account and the object the token is bound to). Tokens are
// valid only while the service account and the bound object still exist
// with the same uids.
package serviceaccount
