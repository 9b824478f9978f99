// Package proxy makes Services work on a node, as kube-proxy's nftables
// mode and CoreDNS do: it watches Services and EndpointSlices through the
// API and programs, in one nftables table of the node's own
// (sigs.k8s.io/knftables), the DNAT of ClusterIPs, NodePorts, external
// and LoadBalancer IPs to ready endpoints, with masquerade where replies
// would otherwise bypass the node, rejects for Services without
// endpoints, session affinity and the load-balancing modes of the
// proxy.skiff.dev/load-balancer annotation.
//
// The rules are built from a model of the Services' ports (model.go) as a
// desired state of chains, maps and sets in nft syntax (rules.go), and
// applied as the difference from what was applied last (apply.go): one
// transaction, all or nothing, so established connections never see half
// a sync. The transaction goes to the kernel as one netlink batch
// (github.com/google/nftables) once netlink.go has compiled each rule to
// the expressions nft would make of it; a rule it does not know sends the
// transaction through the nft binary instead.
package proxy
