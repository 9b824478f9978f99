package proxy

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
)

// AddressesIn are this machine's IPv4 addresses within the CIDRs, for
// node ports (kube-proxy's --nodeport-addresses).
func AddressesIn(cidrs []string) ([]string, error) {
	var prefixes []netip.Prefix
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR: %w", c, err)
		}
		prefixes = append(prefixes, p.Masked())
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok || !ip.Unmap().Is4() {
			continue
		}
		ip = ip.Unmap()
		if slices.ContainsFunc(prefixes, func(p netip.Prefix) bool { return p.Contains(ip) }) && !slices.Contains(out, ip.String()) {
			out = append(out, ip.String())
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no address of this machine is in %v", cidrs)
	}
	return out, nil
}

// enableLocalnet lets node ports answer on loopback: the kernel then
// routes DNATed packets from 127.0.0.0/8 out to pods (their source is
// masqueraded).
func enableLocalnet(ips []string) error {
	if !slices.ContainsFunc(ips, func(ip string) bool { a, err := netip.ParseAddr(ip); return err == nil && a.IsLoopback() }) {
		return nil
	}
	return os.WriteFile("/proc/sys/net/ipv4/conf/all/route_localnet", []byte("1"), 0o644)
}
