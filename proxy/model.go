package proxy

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1api "github.com/skiffhq/skiff/apis/core/v1"
)

// LoadBalancerAnnotation and its values, as the API validates them.
const (
	LoadBalancerAnnotation = corev1api.LoadBalancerAnnotation
	LoadBalanceRandom      = corev1api.LoadBalanceRandom
	LoadBalanceRoundRobin  = corev1api.LoadBalanceRoundRobin
	LoadBalanceSourceHash  = corev1api.LoadBalanceSourceHash
)

// ProxyNameLabel marks Services that another proxy implements, which
// this one leaves alone, as kube-proxy does.
const ProxyNameLabel = "service.kubernetes.io/service-proxy-name"

// endpoint is one address of a Service port's backends.
type endpoint struct {
	IP       string
	Port     int32
	NodeName string
	// Ready, Serving and Terminating are the EndpointSlice conditions,
	// with their defaults filled in.
	Ready, Serving, Terminating bool
}

func (e endpoint) String() string { return e.IP + ":" + strconv.Itoa(int(e.Port)) }

// servicePort is what the rules need of one port of one Service.
type servicePort struct {
	Service  types.NamespacedName
	Name     string // the port's name, "" for a single unnamed port
	Protocol corev1.Protocol
	Port     int32
	NodePort int32
	// ClusterIP is the Service's IPv4 cluster IP ("" for none).
	ClusterIP string
	// ExternalIPs are spec.externalIPs and the LoadBalancer ingress IPs.
	ExternalIPs []string
	// LoadBalancerIPs are the ingress IPs among them, and SourceRanges
	// the clients allowed on those (all when empty).
	LoadBalancerIPs, SourceRanges []string
	// AffinitySeconds is the ClientIP affinity timeout, 0 without affinity.
	AffinitySeconds int32
	LoadBalance     string
	// ExternalLocal and InternalLocal are the traffic policies Local.
	ExternalLocal, InternalLocal bool
	// HealthCheckNodePort reports the node's endpoints (eTP Local).
	HealthCheckNodePort int32
	Endpoints           []endpoint
}

// id names the port within the node's rules: namespace/name/protocol/port.
func (sp *servicePort) id() string {
	name := sp.Name
	return sp.Service.Namespace + "/" + sp.Service.Name + "/" + strings.ToLower(string(sp.Protocol)) + "/" + name
}

// hasExternal says whether traffic reaches the port other than by its
// cluster IP (a node port, an external or a load balancer IP).
func (sp *servicePort) hasExternal() bool { return sp.NodePort != 0 || len(sp.ExternalIPs) > 0 }

// usable picks the endpoints new connections may go to among eps, as
// upstream: the ready ones, or when none is ready, those still serving
// while they terminate.
func usable(eps []endpoint) []endpoint {
	var ready, terminating []endpoint
	for _, e := range eps {
		switch {
		case e.Ready:
			ready = append(ready, e)
		case e.Serving && e.Terminating:
			terminating = append(terminating, e)
		}
	}
	if len(ready) > 0 {
		return ready
	}
	return terminating
}

// clusterEndpoints are the endpoints for traffic from anywhere.
func (sp *servicePort) clusterEndpoints() []endpoint { return usable(sp.Endpoints) }

// localEndpoints are the endpoints on node.
func (sp *servicePort) localEndpoints(node string) []endpoint {
	var local []endpoint
	for _, e := range sp.Endpoints {
		if e.NodeName == node {
			local = append(local, e)
		}
	}
	return usable(local)
}

// problem is why a Service, or a port of it, is not proxied.
type problem struct {
	Reason, Message string
}

// servicePorts builds the model of svc from its EndpointSlices. Services
// the proxy does not implement (ExternalName, headless, another proxy's)
// give none; a port that cannot be proxied is skipped with a problem.
func servicePorts(svc *corev1.Service, eps []*discoveryv1.EndpointSlice) ([]servicePort, []problem) {
	if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Labels[ProxyNameLabel] != "" {
		return nil, nil
	}
	clusterIP := ""
	for _, ip := range append([]string{svc.Spec.ClusterIP}, svc.Spec.ClusterIPs...) {
		if a, err := netip.ParseAddr(ip); err == nil && a.Is4() {
			clusterIP = a.String()
			break
		}
	}
	if clusterIP == "" {
		// Headless: DNS answers with the endpoints; there is nothing to NAT.
		return nil, nil
	}
	var problems []problem
	lb := LoadBalanceRandom
	if v, ok := svc.Annotations[LoadBalancerAnnotation]; ok {
		if errs := corev1api.ValidateLoadBalancer(v, field.NewPath("metadata", "annotations").Key(LoadBalancerAnnotation)); len(errs) > 0 {
			problems = append(problems, problem{"UnsupportedLoadBalancer", errs.ToAggregate().Error() + "; using random"})
		} else {
			lb = v
		}
	}
	var external []string
	for _, ip := range svc.Spec.ExternalIPs {
		if a, err := netip.ParseAddr(ip); err == nil && a.Is4() {
			external = append(external, a.String())
		}
	}
	var lbIPs, ranges []string
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			if a, err := netip.ParseAddr(ing.IP); err == nil && a.Is4() && !slices.Contains(external, a.String()) {
				external = append(external, a.String())
				lbIPs = append(lbIPs, a.String())
			}
		}
		for _, r := range svc.Spec.LoadBalancerSourceRanges {
			if p, err := netip.ParsePrefix(strings.TrimSpace(r)); err == nil && p.Addr().Is4() {
				ranges = append(ranges, p.Masked().String())
			}
		}
	}
	var affinity int32
	if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		affinity = corev1.DefaultClientIPServiceAffinitySeconds
		if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			affinity = *c.ClientIP.TimeoutSeconds
		}
	}
	var out []servicePort
	for _, p := range svc.Spec.Ports {
		switch p.Protocol {
		case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		default:
			problems = append(problems, problem{"UnsupportedProtocol", fmt.Sprintf("port %d: protocol %q is not supported", p.Port, p.Protocol)})
			continue
		}
		sp := servicePort{
			Service: types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name},
			Name:    p.Name, Protocol: p.Protocol, Port: p.Port, ClusterIP: clusterIP, ExternalIPs: external,
			LoadBalancerIPs: lbIPs, SourceRanges: ranges,
			AffinitySeconds: affinity, LoadBalance: lb,
			ExternalLocal: svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal,
			InternalLocal: svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal,
		}
		if svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			sp.NodePort = p.NodePort
		}
		if sp.ExternalLocal && svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			sp.HealthCheckNodePort = svc.Spec.HealthCheckNodePort
		}
		sp.Endpoints = endpointsFor(eps, p.Name, p.Protocol)
		if len(sp.Endpoints) == 0 && p.TargetPort.Type == intstr.String && selectsPods(eps) {
			problems = append(problems, problem{"UnresolvedTargetPort",
				fmt.Sprintf("port %d: no selected pod has a container port named %q; connections are refused", p.Port, p.TargetPort.StrVal)})
		}
		out = append(out, sp)
	}
	return out, problems
}

// endpointsFor collects the IPv4 endpoints of the port named name, once
// each, in a stable order.
func endpointsFor(list []*discoveryv1.EndpointSlice, name string, protocol corev1.Protocol) []endpoint {
	seen := map[string]bool{}
	var out []endpoint
	for _, s := range list {
		if s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		var port int32
		for _, p := range s.Ports {
			pn, pp := "", corev1.ProtocolTCP
			if p.Name != nil {
				pn = *p.Name
			}
			if p.Protocol != nil {
				pp = *p.Protocol
			}
			if pn == name && pp == protocol && p.Port != nil {
				port = *p.Port
				break
			}
		}
		if port == 0 {
			continue
		}
		for _, e := range s.Endpoints {
			ready := e.Conditions.Ready == nil || *e.Conditions.Ready
			serving := ready
			if e.Conditions.Serving != nil {
				serving = *e.Conditions.Serving
			}
			terminating := e.Conditions.Terminating != nil && *e.Conditions.Terminating
			node := ""
			if e.NodeName != nil {
				node = *e.NodeName
			}
			for _, addr := range e.Addresses {
				a, err := netip.ParseAddr(addr)
				if err != nil || !a.Is4() {
					continue
				}
				ep := endpoint{IP: a.String(), Port: port, NodeName: node, Ready: ready, Serving: serving, Terminating: terminating}
				if seen[ep.String()] {
					continue
				}
				seen[ep.String()] = true
				out = append(out, ep)
			}
		}
	}
	slices.SortFunc(out, func(a, b endpoint) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// selectsPods says whether the slices list any endpoint at all.
func selectsPods(list []*discoveryv1.EndpointSlice) bool {
	for _, s := range list {
		if len(s.Endpoints) > 0 {
			return true
		}
	}
	return false
}
