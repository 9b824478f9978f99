package proxy

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/knftables"
)

// Names of the table's fixed chains, maps and sets.
const (
	chainFilterInput   = "filter-input"
	chainFilterForward = "filter-forward"
	chainFilterOutput  = "filter-output"
	chainNatPrerouting = "nat-prerouting"
	chainNatOutput     = "nat-output"
	chainNatPostrouing = "nat-postrouting"
	chainEndpoints     = "endpoints-check"
	chainClusterIPs    = "cluster-ips-check"
	chainReject        = "reject-chain"
	chainServices      = "services"
	chainMarkMasq      = "mark-for-masquerade"
	chainMasquerading  = "masquerading"

	mapServiceIPs         = "service-ips"
	mapServiceNodePorts   = "service-nodeports"
	mapNoEndpointServices = "no-endpoint-services"
	mapNoEndpointNodePort = "no-endpoint-nodeports"
	setClusterIPs         = "cluster-ips"
	setNodePortIPs        = "nodeport-ips"
	// setHairpin holds "IP . IP" for every endpoint: a connection an
	// endpoint makes to itself through a Service is masqueraded, so that
	// the reply comes back through the node.
	setHairpin = "hairpin"

	// masqueradeBit marks packets to masquerade on their way out, the bit
	// kube-proxy uses.
	masqueradeBit = "0x4000"

	ipPortProto = "ipv4_addr . inet_proto . inet_service : verdict"
	portProto   = "inet_proto . inet_service : verdict"
)

// mapTypes are the table's verdict maps and their key types.
var mapTypes = map[string]string{mapServiceIPs: ipPortProto, mapNoEndpointServices: ipPortProto,
	mapServiceNodePorts: portProto, mapNoEndpointNodePort: portProto}

// node is what the rules need of the node they are for.
type node struct {
	Name string
	// Bridge is the pods' bridge: traffic from it comes from local pods.
	Bridge string
	// NodePortIPs are the addresses node ports answer on.
	NodePortIPs []string
}

// chainSpec is a chain and its rules; base chains carry their hook.
type chainSpec struct {
	base  *knftables.Chain
	rules []string
}

// setSpec is a set; elements of dynamic sets are the kernel's, not ours.
type setSpec struct {
	typ      string
	dynamic  bool
	timeout  time.Duration
	elements map[string]bool
}

// ruleset is the table's desired content.
type ruleset struct {
	chains map[string]chainSpec
	// maps: map name → its type and elements (key → value, in nft syntax,
	// concatenations joined with " . ").
	maps map[string]map[string]string
	sets map[string]setSpec
	// clusterIPs and hairpin pairs (of the endpoints on this node) of a
	// Service's fragment, for the fixed sets.
	clusterIPs, hairpin []string
}

func baseChain(name string, typ knftables.BaseChainType, hook knftables.BaseChainHook, prio knftables.BaseChainPriority) *knftables.Chain {
	return &knftables.Chain{Name: name, Type: &typ, Hook: &hook, Priority: &prio}
}

// newRuleset is an empty ruleset with the table's maps.
func newRuleset() *ruleset {
	r := &ruleset{
		chains: map[string]chainSpec{},
		maps:   map[string]map[string]string{},
		sets:   map[string]setSpec{},
	}
	for name := range mapTypes {
		r.maps[name] = map[string]string{}
	}
	return r
}

// state is the table's desired content: the fixed chains and sets, and
// one fragment per Service (its chains, map entries and affinity sets),
// which a sync rebuilds only for the Services that changed.
type state struct {
	fixed *ruleset
	frags map[string]*ruleset
}

// buildState computes the table's content for node and ports.
func buildState(n node, ports []servicePort) *state {
	st := &state{frags: map[string]*ruleset{}}
	byService := map[string][]servicePort{}
	for _, sp := range ports {
		key := sp.Service.String()
		byService[key] = append(byService[key], sp)
	}
	for key, sps := range byService {
		st.frags[key] = serviceRules(n, sps)
	}
	st.fixed = fixedRules(n)
	return st
}

// buildRules is the whole table as one ruleset.
func buildRules(n node, ports []servicePort) *ruleset { return buildState(n, ports).flatten() }

// flatten merges the fixed part and the fragments, whose cluster IPs and
// hairpin pairs fill the shared sets.
func (st *state) flatten() *ruleset {
	r := newRuleset()
	for _, part := range append([]*ruleset{st.fixed}, slices.Collect(maps.Values(st.frags))...) {
		maps.Copy(r.chains, part.chains)
		maps.Copy(r.sets, part.sets)
		for name, entries := range part.maps {
			maps.Copy(r.maps[name], entries)
		}
	}
	for name, count := range st.sharedCounts() {
		s := r.sets[name]
		s.elements = make(map[string]bool, len(count))
		for e := range count {
			s.elements[e] = true
		}
		r.sets[name] = s
	}
	return r
}

// sharedSets are the sets whose elements come from the fragments: a
// Service's cluster IPs and the hairpin pairs of its endpoints on this
// node. One element may come from several Services (an endpoint of two
// Services), so the sets are kept by counts.
var sharedSets = []string{setClusterIPs, setHairpin}

// shared is a fragment's elements of the shared sets, by set.
func (r *ruleset) shared() map[string][]string {
	return map[string][]string{setClusterIPs: r.clusterIPs, setHairpin: r.hairpin}
}

// sharedCounts counts, per shared set, the fragments that hold each
// element.
func (st *state) sharedCounts() map[string]map[string]int {
	counts := map[string]map[string]int{}
	for _, name := range sharedSets {
		counts[name] = map[string]int{}
	}
	for _, f := range st.frags {
		for name, elements := range f.shared() {
			for _, e := range elements {
				counts[name][e]++
			}
		}
	}
	return counts
}

// serviceRules computes one Service's fragment from its ports.
func serviceRules(n node, ports []servicePort) *ruleset {
	r := newRuleset()
	endpointIPs := map[string]bool{}
	for i := range ports {
		sp := &ports[i]
		if !slices.Contains(r.clusterIPs, sp.ClusterIP) {
			r.clusterIPs = append(r.clusterIPs, sp.ClusterIP)
		}
		for _, e := range sp.Endpoints {
			// Hairpin only happens for endpoints on this node.
			if e.NodeName == n.Name && !endpointIPs[e.IP] {
				endpointIPs[e.IP] = true
				r.hairpin = append(r.hairpin, e.IP+" . "+e.IP)
			}
		}
		r.addPort(n, sp)
	}
	return r
}

// fixedRules computes the table's fixed chains and sets (the elements of
// the shared sets come from the fragments).
func fixedRules(n node) *ruleset {
	r := newRuleset()
	r.sets = map[string]setSpec{
		setClusterIPs:  {typ: "ipv4_addr"},
		setNodePortIPs: {typ: "ipv4_addr", elements: toSet(n.NodePortIPs)},
		setHairpin:     {typ: "ipv4_addr . ipv4_addr"},
	}
	filterPrio := knftables.BaseChainPriority("filter - 10")
	r.chains[chainFilterInput] = chainSpec{base: baseChain(chainFilterInput, knftables.FilterType, knftables.InputHook, filterPrio),
		rules: []string{"ct state new jump " + chainEndpoints}}
	for _, c := range []struct {
		name string
		hook knftables.BaseChainHook
	}{{chainFilterForward, knftables.ForwardHook}, {chainFilterOutput, knftables.OutputHook}} {
		r.chains[c.name] = chainSpec{base: baseChain(c.name, knftables.FilterType, c.hook, filterPrio),
			rules: []string{"ct state new jump " + chainEndpoints, "ct state new jump " + chainClusterIPs}}
	}
	r.chains[chainEndpoints] = chainSpec{rules: []string{
		"ip daddr . meta l4proto . th dport vmap @" + mapNoEndpointServices,
		"ip daddr @" + setNodePortIPs + " meta l4proto . th dport vmap @" + mapNoEndpointNodePort,
	}}
	// A cluster IP on a port no Service has is refused at once.
	r.chains[chainClusterIPs] = chainSpec{rules: []string{"ip daddr @" + setClusterIPs + " reject"}}
	r.chains[chainReject] = chainSpec{rules: []string{"reject"}}
	r.chains[chainNatPrerouting] = chainSpec{base: baseChain(chainNatPrerouting, knftables.NATType, knftables.PreroutingHook, knftables.DNATPriority),
		rules: []string{"jump " + chainServices}}
	r.chains[chainNatOutput] = chainSpec{base: baseChain(chainNatOutput, knftables.NATType, knftables.OutputHook, knftables.DNATPriority),
		rules: []string{"jump " + chainServices}}
	r.chains[chainNatPostrouing] = chainSpec{base: baseChain(chainNatPostrouing, knftables.NATType, knftables.PostroutingHook, knftables.SNATPriority),
		rules: []string{"ip saddr . ip daddr @" + setHairpin + " jump " + chainMarkMasq, "jump " + chainMasquerading}}
	r.chains[chainMarkMasq] = chainSpec{rules: []string{"meta mark set meta mark | " + masqueradeBit}}
	r.chains[chainMasquerading] = chainSpec{rules: []string{
		"meta mark & " + masqueradeBit + " == 0 return",
		"meta mark set meta mark ^ " + masqueradeBit,
		"masquerade fully-random",
	}}
	r.chains[chainServices] = chainSpec{rules: []string{
		// Traffic to a cluster IP that does not come from this node's pods
		// leaves masqueraded, so that replies come back through the node.
		fmt.Sprintf("ip daddr @%s iifname != %q jump %s", setClusterIPs, n.Bridge, chainMarkMasq),
		"ip daddr . meta l4proto . th dport vmap @" + mapServiceIPs,
		"ip daddr @" + setNodePortIPs + " meta l4proto . th dport vmap @" + mapServiceNodePorts,
	}}
	return r
}

// hashName is a short stable hash of s, for unique chain names.
func hashName(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base32.StdEncoding.EncodeToString(sum[:])[:8]
}

func proto(sp *servicePort) string { return strings.ToLower(string(sp.Protocol)) }

func (r *ruleset) addPort(n node, sp *servicePort) {
	id := sp.id()
	h := hashName(id)
	serviceChain, localChain, externalChain := "service-"+h+"-"+id, "local-"+h+"-"+id, "external-"+h+"-"+id
	cluster, local := sp.clusterEndpoints(), sp.localEndpoints(n.Name)
	port := strconv.Itoa(int(sp.Port))
	if len(cluster) > 0 {
		r.chains[serviceChain] = chainSpec{rules: r.dispatch(sp, cluster)}
	}
	if len(local) > 0 && (sp.InternalLocal || sp.ExternalLocal && sp.hasExternal()) {
		r.chains[localChain] = chainSpec{rules: r.dispatch(sp, local)}
	}

	// The cluster IP.
	clusterKey := sp.ClusterIP + " . " + proto(sp) + " . " + port
	switch {
	case sp.InternalLocal && len(local) > 0:
		r.maps[mapServiceIPs][clusterKey] = "goto " + localChain
	case sp.InternalLocal && len(cluster) > 0:
		// Endpoints exist, none here: dropped, as upstream.
		r.maps[mapNoEndpointServices][clusterKey] = "drop"
	case !sp.InternalLocal && len(cluster) > 0:
		r.maps[mapServiceIPs][clusterKey] = "goto " + serviceChain
	default:
		r.maps[mapNoEndpointServices][clusterKey] = "goto " + chainReject
	}

	// Node ports, external and load balancer IPs.
	if !sp.hasExternal() {
		return
	}
	if len(cluster) == 0 {
		for _, ip := range sp.ExternalIPs {
			r.maps[mapNoEndpointServices][ip+" . "+proto(sp)+" . "+port] = "goto " + chainReject
		}
		if sp.NodePort != 0 {
			r.maps[mapNoEndpointNodePort][proto(sp)+" . "+strconv.Itoa(int(sp.NodePort))] = "goto " + chainReject
		}
		return
	}
	var rules []string
	if len(sp.SourceRanges) > 0 && len(sp.LoadBalancerIPs) > 0 {
		// loadBalancerSourceRanges: other clients of the load balancer
		// IPs are dropped (node ports stay open, as upstream). A chain of
		// plain rules rather than anonymous sets: netlink.go writes these.
		firewall := "firewall-" + h + "-" + id
		var allowed []string
		for _, cidr := range sp.SourceRanges {
			allowed = append(allowed, "ip saddr "+cidr+" return")
		}
		r.chains[firewall] = chainSpec{rules: append(allowed, "drop")}
		for _, ip := range sp.LoadBalancerIPs {
			rules = append(rules, "ip daddr "+ip+" jump "+firewall)
		}
	}
	if sp.ExternalLocal {
		// Pods and the node itself reach every endpoint; traffic from
		// elsewhere only this node's, keeping the client's address.
		rules = append(rules,
			fmt.Sprintf("iifname %q goto %s", n.Bridge, serviceChain),
			"fib saddr type local jump "+chainMarkMasq,
			"fib saddr type local goto "+serviceChain)
		if len(local) > 0 {
			rules = append(rules, "goto "+localChain)
		} else {
			rules = append(rules, "drop")
		}
	} else {
		rules = append(rules, "jump "+chainMarkMasq, "goto "+serviceChain)
	}
	r.chains[externalChain] = chainSpec{rules: rules}
	for _, ip := range sp.ExternalIPs {
		r.maps[mapServiceIPs][ip+" . "+proto(sp)+" . "+port] = "goto " + externalChain
	}
	if sp.NodePort != 0 {
		r.maps[mapServiceNodePorts][proto(sp)+" . "+strconv.Itoa(int(sp.NodePort))] = "goto " + externalChain
	}
}

// dispatch returns the rules that send a new connection to one of eps:
// a cascade in which rule i takes 1/(n-i) of what reaches it (as
// kube-proxy's iptables mode does), so every endpoint gets 1/n. The
// choice is random, round-robin (each rule's counter advances with the
// connections that reach it: exact turns) or a hash of the client's
// address. Plain rules, not anonymous maps: nft creates those one by one
// with a scan of the table's sets, which made 5,000 Services take
// seconds to load. With session affinity each endpoint has a chain that
// remembers its clients.
func (r *ruleset) dispatch(sp *servicePort, eps []endpoint) []string {
	var rules []string
	actions := make([]string, len(eps))
	for i, e := range eps {
		if sp.AffinitySeconds == 0 {
			actions[i] = fmt.Sprintf("meta l4proto %s dnat to %s", proto(sp), e)
			continue
		}
		chain, set := r.addEndpoint(sp, e)
		// A client seen within the timeout returns to its endpoint.
		rules = append(rules, fmt.Sprintf("ip saddr @%s goto %s", set, chain))
		actions[i] = "goto " + chain
	}
	for i, action := range actions {
		left := len(actions) - i
		if left == 1 {
			rules = append(rules, action)
			break
		}
		var pick string
		switch sp.LoadBalance {
		case LoadBalanceRoundRobin:
			pick = fmt.Sprintf("numgen inc mod %d", left)
		case LoadBalanceSourceHash:
			// A seed per rule keeps the rules' choices independent.
			pick = fmt.Sprintf("jhash ip saddr mod %d seed 0x%x", left, i+1)
		default:
			pick = fmt.Sprintf("numgen random mod %d", left)
		}
		rules = append(rules, pick+" == 0 "+action)
	}
	return rules
}

// addEndpoint adds the chain that remembers a client and DNATs to e, and
// its affinity set, and returns their names.
func (r *ruleset) addEndpoint(sp *servicePort, e endpoint) (chain, set string) {
	id := sp.id() + "__" + e.IP + "/" + strconv.Itoa(int(e.Port))
	chain = "endpoint-" + hashName(id) + "-" + id
	// The timeout is part of the name: a set's timeout cannot change.
	set = "affinity-" + hashName(id+"@"+strconv.Itoa(int(sp.AffinitySeconds))) + "-" + id
	if _, done := r.chains[chain]; done {
		return chain, set
	}
	r.sets[set] = setSpec{typ: "ipv4_addr", dynamic: true, timeout: time.Duration(sp.AffinitySeconds) * time.Second}
	r.chains[chain] = chainSpec{rules: []string{
		fmt.Sprintf("update @%s { ip saddr }", set),
		fmt.Sprintf("meta l4proto %s dnat to %s", proto(sp), e.String()),
	}}
	return chain, set
}
