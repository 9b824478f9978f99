// Package network gives pods their network: a network namespace per pod
// (a bind-mounted file, so it outlives any process) wired by CNI through
// libcni with the Debian containernetworking-plugins: loopback, and a
// bridge with host-local addresses from the node's podCIDR (hairpin on,
// masquerade of traffic leaving the cluster CIDR) plus portmap for
// hostPorts.
package network
