// Package clusterdns keeps the cluster's DNS Service, as an installer's
// CoreDNS manifest would make it: the Service kube-system/kube-dns on a
// fixed cluster IP with ports dns (53/UDP) and dns-tcp (53/TCP), whose
// EndpointSlices list the node agents that serve DNS, read from their
// Nodes' skiff.dev/dns-address annotations (Ready nodes only).
package clusterdns
