// Package network gives pods their network: a network namespace per pod
// (a bind-mounted file, so it outlives any process) wired by CNI through
// libcni with the Debian containernetworking-plugins: loopback, and a
// bridge with host-local addresses from the node's podCIDR (hairpin on),
// plus portmap for pods with hostPorts. Traffic leaving the pods' subnet
// is masqueraded by one rule in the node's own nftables table
// (sigs.k8s.io/knftables); routes to other nodes' podCIDRs are kept by
// SyncRoutes.
package network
