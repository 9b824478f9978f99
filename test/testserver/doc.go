// Package testserver starts a real `skiff server` process for tests: the
// binary from $SKIFF_BIN (make test sets it) or one built on the spot, on
// a free port with a temporary data directory, and stops it by PID.
package testserver
