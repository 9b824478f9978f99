package proxy

import (
	"fmt"
	"net"
	"strconv"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// staleUDP are UDP endpoints ("IP:port") that stopped serving a Service.
// UDP has no connections to end: the kernel keeps sending a flow's
// packets to the endpoint its conntrack entry names, so, as kube-proxy,
// the proxy deletes those entries once the rules without the endpoint
// are in place; the flow's next packet is balanced anew.
type staleUDP map[string]bool

// MatchConntrackFlow implements netlink.CustomConntrackFilter: a UDP flow
// whose replies come from one of the endpoints.
func (s staleUDP) MatchConntrackFlow(flow *netlink.ConntrackFlow) bool {
	if flow.Forward.Protocol != unix.IPPROTO_UDP || flow.Reverse.SrcIP == nil {
		return false
	}
	return s[net.JoinHostPort(flow.Reverse.SrcIP.String(), strconv.Itoa(int(flow.Reverse.SrcPort)))]
}

// clearConntrack deletes the conntrack entries of stale UDP endpoints.
func clearConntrack(stale staleUDP) (uint, error) {
	if len(stale) == 0 {
		return 0, nil
	}
	n, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, stale)
	if err != nil {
		return n, fmt.Errorf("deleting the conntrack entries of %d removed UDP endpoints: %w", len(stale), err)
	}
	return n, nil
}

// udpEndpoints are the endpoints of a Service's UDP ports.
func udpEndpoints(ports []servicePort) map[string]bool {
	var out map[string]bool
	for _, sp := range ports {
		if sp.Protocol != "UDP" {
			continue
		}
		for _, e := range sp.Endpoints {
			if out == nil {
				out = map[string]bool{}
			}
			out[e.String()] = true
		}
	}
	return out
}
