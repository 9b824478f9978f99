package server

import (
	"context"
	"fmt"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/skiffhq/skiff/kubelet"
	"github.com/skiffhq/skiff/kubelet/network"
	"github.com/skiffhq/skiff/proxy"
)

// runProxy runs the service proxy of the local node n, whose pods are on
// bridge, until ctx ends; its rules stay for the next agent.
func runProxy(ctx context.Context, client kubernetes.Interface, n kubelet.NodeConfig, bridge string, dnsPort int, nodePortCIDRs []string) error {
	var ips []string
	for _, a := range n.Addresses {
		if a.Type == corev1.NodeInternalIP {
			ips = append(ips, a.Address)
		}
	}
	nodePortIPs := ips
	if len(nodePortCIDRs) > 0 {
		var err error
		if nodePortIPs, err = proxy.AddressesIn(nodePortCIDRs); err != nil {
			return fmt.Errorf("--nodeport-addresses: %w", err)
		}
	}
	cfg := proxy.Config{Client: client, NodeName: n.Name, Bridge: bridge, Table: network.ServicesTableName(bridge), NodePortIPs: nodePortIPs}
	if dnsPort > 0 && len(ips) > 0 {
		cfg.DNSAddress = net.JoinHostPort(ips[0], strconv.Itoa(dnsPort))
	}
	p, err := proxy.New(cfg)
	if err != nil {
		return fmt.Errorf("%w (install nftables: hack/install-deps.sh)", err)
	}
	return p.Run(ctx)
}
