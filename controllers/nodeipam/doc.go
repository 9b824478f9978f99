// Package nodeipam gives each Node a podCIDR carved from the cluster CIDR
// (kube-controller-manager's node IPAM with --allocate-node-cidrs), which
// node agents hand out pod IPs from.
package nodeipam
