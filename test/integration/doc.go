// Package integration tests a real `skiff server` process through the
// clients users have: client-go and the kubectl on PATH.
package integration
