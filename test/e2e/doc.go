// Package e2e runs a real `skiff server` whose node agent drives the
// machine's containerd: pods are real containers on a CNI bridge. The
// tests need root and the runtime packages (make test installs them with
// hack/install-deps.sh); without them they are skipped, saying why.
package e2e
