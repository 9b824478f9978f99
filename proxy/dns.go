package proxy

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/klog/v2"
)

// DefaultClusterDomain is the cluster's DNS domain, as upstream's.
const DefaultClusterDomain = "cluster.local"

// dnsTTL is the TTL of cluster answers, CoreDNS's default.
const dnsTTL = 5

// resolver answers cluster names from the Services and EndpointSlices
// and forwards the rest to the node's resolvers, as CoreDNS's kubernetes
// plugin (pods insecure) with forward does.
type resolver struct {
	domain   string // "cluster.local." (fully qualified)
	services corelisters.ServiceLister
	slices   discoverylisters.EndpointSliceLister
	upstream []string // host:port
	client   *dns.Client
	logger   klog.Logger
}

func newResolver(domain string, services corelisters.ServiceLister, slices discoverylisters.EndpointSliceLister, upstream []string, logger klog.Logger) *resolver {
	return &resolver{domain: dns.Fqdn(strings.ToLower(domain)), services: services, slices: slices, upstream: upstream,
		client: &dns.Client{Timeout: 2 * time.Second}, logger: logger}
}

// hostResolvers are the nameservers of the node's resolv.conf.
func hostResolvers(path string) []string {
	cfg, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range cfg.Servers {
		out = append(out, net.JoinHostPort(s, cfg.Port))
	}
	return out
}

// listen opens addr (UDP and TCP) for serving.
func (r *resolver) listen(addr string) (*dnsListeners, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("cluster DNS: %w", err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("cluster DNS: %w", err)
	}
	return &dnsListeners{addr: addr, udp: &dns.Server{PacketConn: pc, Handler: r}, tcp: &dns.Server{Listener: l, Handler: r}}, nil
}

type dnsListeners struct {
	addr     string
	udp, tcp *dns.Server
}

// serve answers until ctx ends.
func (s *dnsListeners) serve(ctx context.Context) error {
	errs := make(chan error, 2)
	go func() { errs <- s.udp.ActivateAndServe() }()
	go func() { errs <- s.tcp.ActivateAndServe() }()
	defer func() {
		_ = s.udp.Shutdown()
		_ = s.tcp.Shutdown()
	}()
	select {
	case <-ctx.Done():
		return nil
	case err := <-errs:
		return fmt.Errorf("cluster DNS on %s: %w", s.addr, err)
	}
}

// ServeDNS implements dns.Handler.
func (r *resolver) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	network := w.RemoteAddr().Network()
	resp := r.answer(req, network)
	if resp == nil {
		resp = new(dns.Msg)
		resp.SetRcode(req, dns.RcodeServerFailure)
	}
	if network == "udp" {
		// What does not fit the client's buffer (512 bytes, or its EDNS0
		// size) is cut, with the truncated bit set: it asks again over TCP.
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = max(size, int(opt.UDPSize()))
		}
		resp.Truncate(size)
	}
	_ = w.WriteMsg(resp)
}

func (r *resolver) answer(req *dns.Msg, network string) *dns.Msg {
	if len(req.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeFormatError)
		return m
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	if q.Qtype == dns.TypePTR && dns.IsSubDomain("in-addr.arpa.", name) {
		// Reverse lookups of cluster addresses, as CoreDNS's kubernetes
		// plugin; other addresses go on to the node's resolvers.
		if target := r.reverse(name); target != "" {
			m := new(dns.Msg)
			m.SetReply(req)
			m.Authoritative, m.RecursionAvailable = true, true
			m.Answer = []dns.RR{&dns.PTR{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: dnsTTL}, Ptr: target}}
			return m
		}
		return r.forward(req, network)
	}
	if !dns.IsSubDomain(r.domain, name) {
		return r.forward(req, network)
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = true
	rrs, extra, exists := r.lookup(name, q.Qtype)
	if q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY {
		// A name that is an alias outside the cluster: follow it, as
		// stub resolvers expect of their server.
		if len(rrs) == 1 {
			if c, ok := rrs[0].(*dns.CNAME); ok {
				rrs = append(rrs, r.chase(c.Target, network)...)
			}
		}
	}
	switch {
	case !exists:
		m.Rcode = dns.RcodeNameError
		m.Ns = []dns.RR{r.soa()}
	case len(rrs) == 0:
		m.Ns = []dns.RR{r.soa()}
	default:
		m.Answer, m.Extra = rrs, extra
	}
	return m
}

func (r *resolver) soa() dns.RR {
	return &dns.SOA{Hdr: dns.RR_Header{Name: r.domain, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: dnsTTL},
		Ns: "ns.dns." + r.domain, Mbox: "hostmaster." + r.domain, Serial: uint32(time.Now().Unix()),
		Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: dnsTTL}
}

func a(name, ip string) dns.RR {
	return &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: dnsTTL}, A: net.ParseIP(ip).To4()}
}

// lookup resolves a name of the cluster domain: its records of type
// qtype, additional records, and whether the name exists at all.
func (r *resolver) lookup(name string, qtype uint16) (rrs, extra []dns.RR, exists bool) {
	rel := strings.TrimSuffix(strings.TrimSuffix(name, r.domain), ".")
	if rel == "" {
		return nil, nil, true
	}
	if rel == "dns-version" {
		// The version of the Kubernetes DNS schema served, as its
		// specification asks.
		if qtype == dns.TypeTXT || qtype == dns.TypeANY {
			return []dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: dnsTTL}, Txt: []string{"1.1.0"}}}, nil, true
		}
		return nil, nil, true
	}
	labels := strings.Split(rel, ".")
	last := labels[len(labels)-1]
	switch {
	case last == "svc":
		return r.lookupService(name, labels[:len(labels)-1], qtype)
	case last == "pod" && len(labels) == 3:
		// a-b-c-d.namespace.pod: the address in the name.
		ip, err := netip.ParseAddr(strings.ReplaceAll(labels[0], "-", "."))
		if err != nil || !ip.Is4() {
			return nil, nil, false
		}
		if qtype == dns.TypeA || qtype == dns.TypeANY {
			return []dns.RR{a(name, ip.String())}, nil, true
		}
		return nil, nil, true
	case last == "pod" && len(labels) <= 2:
		return nil, nil, true
	}
	return nil, nil, false
}

// lookupService resolves labels of name before "svc": [namespace],
// [service namespace], [endpoint service namespace] or
// [_port _proto service namespace].
func (r *resolver) lookupService(name string, labels []string, qtype uint16) (rrs, extra []dns.RR, exists bool) {
	switch len(labels) {
	case 0:
		return nil, nil, true
	case 1:
		// A namespace: exists when it has Services.
		list, _ := r.services.Services(labels[0]).List(everything)
		return nil, nil, len(list) > 0
	}
	ns, svcName := labels[len(labels)-1], labels[len(labels)-2]
	svc, err := r.services.Services(ns).Get(svcName)
	if err != nil {
		return nil, nil, false
	}
	svcFQDN := svcName + "." + ns + ".svc." + r.domain
	eps := r.endpoints(svc)
	switch len(labels) {
	case 2:
		switch {
		case svc.Spec.Type == corev1.ServiceTypeExternalName:
			if qtype == dns.TypeAAAA {
				return nil, nil, true
			}
			return []dns.RR{&dns.CNAME{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: dnsTTL},
				Target: dns.Fqdn(svc.Spec.ExternalName)}}, nil, true
		case qtype == dns.TypeSRV:
			for _, p := range svc.Spec.Ports {
				if p.Name != "" {
					s, e := r.srv(name, svc, p, eps, svcFQDN)
					rrs, extra = append(rrs, s...), append(extra, e...)
				}
			}
			return rrs, extra, true
		case qtype != dns.TypeA && qtype != dns.TypeANY:
			return nil, nil, true
		case svc.Spec.ClusterIP == corev1.ClusterIPNone:
			for _, e := range eps {
				rrs = append(rrs, a(name, e.ip))
			}
			return rrs, nil, true
		}
		for _, ip := range svc.Spec.ClusterIPs {
			if addr, err := netip.ParseAddr(ip); err == nil && addr.Is4() {
				rrs = append(rrs, a(name, ip))
			}
		}
		return rrs, nil, true
	case 3:
		// An endpoint by hostname (StatefulSet pods) or dashed address.
		if svc.Spec.ClusterIP != corev1.ClusterIPNone {
			return nil, nil, false
		}
		for _, e := range eps {
			if e.label() == labels[0] {
				if qtype == dns.TypeA || qtype == dns.TypeANY {
					return []dns.RR{a(name, e.ip)}, nil, true
				}
				return nil, nil, true
			}
		}
		return nil, nil, false
	case 4:
		// _port._proto.service.namespace.svc
		portName, proto := strings.TrimPrefix(labels[0], "_"), strings.TrimPrefix(labels[1], "_")
		if portName == labels[0] || proto == labels[1] {
			return nil, nil, false
		}
		for _, p := range svc.Spec.Ports {
			if p.Name == portName && strings.EqualFold(string(p.Protocol), proto) {
				if qtype != dns.TypeSRV && qtype != dns.TypeANY {
					return nil, nil, true
				}
				rrs, extra = r.srv(name, svc, p, eps, svcFQDN)
				return rrs, extra, true
			}
		}
		return nil, nil, false
	}
	return nil, nil, false
}

// srv are the SRV records of port p: the Service's name, or for a
// headless Service each endpoint's (with its address as extra).
func (r *resolver) srv(name string, svc *corev1.Service, p corev1.ServicePort, eps []dnsEndpoint, svcFQDN string) (rrs, extra []dns.RR) {
	hdr := dns.RR_Header{Name: name, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: dnsTTL}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		return []dns.RR{&dns.SRV{Hdr: hdr, Priority: 0, Weight: 100, Port: uint16(p.Port), Target: svcFQDN}}, nil
	}
	for _, e := range eps {
		port, ok := e.ports[p.Name+"/"+string(p.Protocol)]
		if !ok {
			continue
		}
		target := e.label() + "." + svcFQDN
		rrs = append(rrs, &dns.SRV{Hdr: hdr, Priority: 0, Weight: uint16(100 / max(1, len(eps))), Port: uint16(port), Target: target})
		extra = append(extra, a(target, e.ip))
	}
	return rrs, extra
}

// dnsEndpoint is an endpoint as DNS shows it.
type dnsEndpoint struct {
	ip, hostname string
	ports        map[string]int32 // "name/PROTOCOL" → port
}

// label is the endpoint's name under its Service: its hostname, or its
// address with dashes.
func (e dnsEndpoint) label() string {
	if e.hostname != "" {
		return e.hostname
	}
	return strings.ReplaceAll(e.ip, ".", "-")
}

var everything = labels.Everything()

// endpoints are svc's ready IPv4 endpoints (all of them when it publishes
// addresses that are not ready), sorted by address.
func (r *resolver) endpoints(svc *corev1.Service) []dnsEndpoint {
	list, err := r.slices.EndpointSlices(svc.Namespace).List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svc.Name}))
	if err != nil {
		return nil
	}
	byIP := map[string]*dnsEndpoint{}
	for _, s := range list {
		if s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		for _, e := range s.Endpoints {
			if !svc.Spec.PublishNotReadyAddresses && e.Conditions.Ready != nil && !*e.Conditions.Ready {
				continue
			}
			for _, addr := range e.Addresses {
				d := byIP[addr]
				if d == nil {
					d = &dnsEndpoint{ip: addr, ports: map[string]int32{}}
					byIP[addr] = d
				}
				if e.Hostname != nil {
					d.hostname = *e.Hostname
				}
				for _, p := range s.Ports {
					if p.Port == nil {
						continue
					}
					pn, pp := "", corev1.ProtocolTCP
					if p.Name != nil {
						pn = *p.Name
					}
					if p.Protocol != nil {
						pp = *p.Protocol
					}
					d.ports[pn+"/"+string(pp)] = *p.Port
				}
			}
		}
	}
	out := make([]dnsEndpoint, 0, len(byIP))
	for _, d := range byIP {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(x, y dnsEndpoint) int { return strings.Compare(x.ip, y.ip) })
	return out
}

// chase resolves target's A records for an alias answer.
func (r *resolver) chase(target, network string) []dns.RR {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(target), dns.TypeA)
	q.RecursionDesired = true
	var resp *dns.Msg
	if dns.IsSubDomain(r.domain, strings.ToLower(target)) {
		resp = r.answer(q, network)
	} else {
		resp = r.forward(q, network)
	}
	if resp == nil || resp.Rcode != dns.RcodeSuccess {
		return nil
	}
	return resp.Answer
}

// forward asks the node's resolvers; nil when none answers.
func (r *resolver) forward(req *dns.Msg, network string) *dns.Msg {
	if len(r.upstream) == 0 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeServerFailure)
		return m
	}
	c := *r.client
	if network == "tcp" {
		c.Net = "tcp"
	}
	var lastErr error
	for _, up := range r.upstream {
		resp, _, err := c.Exchange(req, up)
		if err == nil && resp.Truncated && c.Net != "tcp" {
			tc := c
			tc.Net = "tcp"
			resp, _, err = tc.Exchange(req, up)
		}
		if err == nil {
			resp.Id = req.Id
			return resp
		}
		lastErr = err
	}
	r.logger.V(2).Info("forwarding a query failed", "name", req.Question[0].Name, "err", lastErr)
	return nil
}

// ListenAddress checks that addr ("IP:PORT") can be served on.
func ListenAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return fmt.Errorf("%q is not an IP address", host)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("port %q is not a port number", port)
	}
	return nil
}

// reverse names the cluster address of an in-addr.arpa name: a Service's
// cluster IP, or an endpoint of a headless Service (by its hostname or
// dashed address); "" for others.
func (r *resolver) reverse(name string) string {
	labels := strings.Split(strings.TrimSuffix(name, ".in-addr.arpa."), ".")
	if len(labels) != 4 {
		return ""
	}
	slices.Reverse(labels)
	ip, err := netip.ParseAddr(strings.Join(labels, "."))
	if err != nil || !ip.Is4() {
		return ""
	}
	addr := ip.String()
	svcs, err := r.services.List(everything)
	if err != nil {
		return ""
	}
	slices.SortFunc(svcs, func(a, b *corev1.Service) int { return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name) })
	for _, svc := range svcs {
		fqdn := svc.Name + "." + svc.Namespace + ".svc." + r.domain
		if slices.Contains(svc.Spec.ClusterIPs, addr) || svc.Spec.ClusterIP == addr {
			return fqdn
		}
		if svc.Spec.ClusterIP != corev1.ClusterIPNone {
			continue
		}
		for _, e := range r.endpoints(svc) {
			if e.ip == addr {
				return e.label() + "." + fqdn
			}
		}
	}
	return ""
}
