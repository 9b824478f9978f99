package scheduler

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
)

// Failure reasons, worded as kube-scheduler's plugins word them.
const (
	reasonUnschedulable      = "node(s) were unschedulable"
	reasonNodeAffinity       = "node(s) didn't match Pod's node affinity/selector"
	reasonPorts              = "node(s) didn't have free ports for the requested pod ports"
	reasonTooManyPods        = "Too many pods"
	reasonSpread             = "node(s) didn't match pod topology spread constraints"
	reasonSpreadMissingLabel = "node(s) didn't match pod topology spread constraints (missing required label)"
	reasonExistingAnti       = "node(s) didn't satisfy existing pods anti-affinity rules"
	reasonAffinity           = "node(s) didn't match pod affinity rules"
	reasonAntiAffinity       = "node(s) didn't match pod anti-affinity rules"
)

// nsLabels gives a namespace's labels (for namespaceSelectors).
type nsLabels func(name string) labels.Set

// affinityTerm is a pod (anti-)affinity term made ready to match pods.
type affinityTerm struct {
	selector    labels.Selector
	namespaces  sets.Set[string]
	nsSelector  labels.Selector // nil: only the namespaces above
	topologyKey string
	weight      int32
}

func newAffinityTerm(owner *corev1.Pod, t *corev1.PodAffinityTerm, weight int32) (affinityTerm, error) {
	at := affinityTerm{topologyKey: t.TopologyKey, weight: weight, namespaces: sets.New(t.Namespaces...)}
	sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector)
	if err != nil {
		return at, err
	}
	at.selector = sel
	if t.NamespaceSelector != nil {
		if at.nsSelector, err = metav1.LabelSelectorAsSelector(t.NamespaceSelector); err != nil {
			return at, err
		}
	}
	if len(t.Namespaces) == 0 && t.NamespaceSelector == nil {
		at.namespaces.Insert(owner.Namespace)
	}
	return at, nil
}

func (t *affinityTerm) matches(pod *corev1.Pod, ns nsLabels) bool {
	if !t.namespaces.Has(pod.Namespace) && (t.nsSelector == nil || !t.nsSelector.Matches(ns(pod.Namespace))) {
		return false
	}
	return t.selector.Matches(labels.Set(pod.Labels))
}

func affinityTerms(pod *corev1.Pod, required []corev1.PodAffinityTerm, preferred []corev1.WeightedPodAffinityTerm) (req, pref []affinityTerm, err error) {
	for i := range required {
		t, err := newAffinityTerm(pod, &required[i], 0)
		if err != nil {
			return nil, nil, err
		}
		req = append(req, t)
	}
	for i := range preferred {
		t, err := newAffinityTerm(pod, &preferred[i].PodAffinityTerm, preferred[i].Weight)
		if err != nil {
			return nil, nil, err
		}
		pref = append(pref, t)
	}
	return req, pref, nil
}

// spreadConstraint is a topology spread constraint with its counts.
type spreadConstraint struct {
	maxSkew     int32
	topologyKey string
	selector    labels.Selector
	minDomains  int32
	honorAff    bool
	honorTaints bool
	counts      map[string]int // domain → matching pods
	min         int
	selfMatch   int
}

// cycle holds what scheduling one pod needs, computed once for all nodes.
type cycle struct {
	pod          *corev1.Pod
	pi           *podInfo
	nodeAffinity nodeaffinity.RequiredNodeAffinity
	preferred    *nodeaffinity.PreferredSchedulingTerms
	ns           nsLabels

	affinity, antiAffinity         []affinityTerm
	prefAffinity, prefAntiAffinity []affinityTerm
	// affinityCounts[i] counts, per topology value, pods matching
	// required affinity term i; antiCounts likewise.
	affinityCounts, antiCounts []map[string]int
	affinityAnywhere           bool
	// existingAnti: topology key → values where an existing pod's
	// required anti-affinity term matches this pod.
	existingAnti map[string]sets.Set[string]

	spread, softSpread []*spreadConstraint

	nodes      map[string]*nodeInfo
	prefCounts map[string]int
}

func newCycle(c *cache, pod *corev1.Pod, ns nsLabels) (*cycle, error) {
	cy := &cycle{pod: pod, pi: newPodInfo(pod), nodeAffinity: nodeaffinity.GetRequiredNodeAffinity(pod), ns: ns,
		nodes: c.nodes, prefCounts: map[string]int{}}
	if a := pod.Spec.Affinity; a != nil {
		if na := a.NodeAffinity; na != nil && len(na.PreferredDuringSchedulingIgnoredDuringExecution) > 0 {
			p, err := nodeaffinity.NewPreferredSchedulingTerms(na.PreferredDuringSchedulingIgnoredDuringExecution)
			if err != nil {
				return nil, err
			}
			cy.preferred = p
		}
		var err error
		if pa := a.PodAffinity; pa != nil {
			if cy.affinity, cy.prefAffinity, err = affinityTerms(pod, pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution); err != nil {
				return nil, err
			}
		}
		if pa := a.PodAntiAffinity; pa != nil {
			if cy.antiAffinity, cy.prefAntiAffinity, err = affinityTerms(pod, pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution); err != nil {
				return nil, err
			}
		}
	}
	for _, tsc := range pod.Spec.TopologySpreadConstraints {
		sel, err := metav1.LabelSelectorAsSelector(tsc.LabelSelector)
		if err != nil {
			return nil, err
		}
		sc := &spreadConstraint{maxSkew: tsc.MaxSkew, topologyKey: tsc.TopologyKey, selector: sel, counts: map[string]int{}, minDomains: 1,
			honorAff:    tsc.NodeAffinityPolicy == nil || *tsc.NodeAffinityPolicy == corev1.NodeInclusionPolicyHonor,
			honorTaints: tsc.NodeTaintsPolicy != nil && *tsc.NodeTaintsPolicy == corev1.NodeInclusionPolicyHonor}
		if tsc.MinDomains != nil {
			sc.minDomains = *tsc.MinDomains
		}
		if sel.Matches(labels.Set(pod.Labels)) {
			sc.selfMatch = 1
		}
		if tsc.WhenUnsatisfiable == corev1.DoNotSchedule {
			cy.spread = append(cy.spread, sc)
		} else {
			cy.softSpread = append(cy.softSpread, sc)
		}
	}
	cy.count(c)
	return cy, nil
}

// count walks the placed pods once for the inter-pod affinity and spread
// counts this pod needs. The caller holds the cache's read lock.
func (cy *cycle) count(c *cache) {
	needAffinity := len(cy.affinity)+len(cy.antiAffinity) > 0
	cy.affinityCounts = make([]map[string]int, len(cy.affinity))
	for i := range cy.affinityCounts {
		cy.affinityCounts[i] = map[string]int{}
	}
	cy.antiCounts = make([]map[string]int, len(cy.antiAffinity))
	for i := range cy.antiCounts {
		cy.antiCounts[i] = map[string]int{}
	}
	cy.existingAnti = map[string]sets.Set[string]{}
	spreads := append(append([]*spreadConstraint{}, cy.spread...), cy.softSpread...)
	if !needAffinity && len(spreads) == 0 {
		// Only other pods' anti-affinity can matter: walk just those.
		for _, pi := range c.antiPods {
			if ni := c.nodes[pi.pod.Spec.NodeName]; ni != nil && ni.node != nil {
				cy.existingAntiOf(pi.pod, ni.node.Labels)
			}
		}
		return
	}
	for _, ni := range c.nodes {
		if ni.node == nil {
			continue
		}
		nl := ni.node.Labels
		eligible := make([]bool, len(spreads))
		for i, sc := range spreads {
			eligible[i] = cy.spreadEligible(sc, spreads, ni.node)
			if eligible[i] {
				if _, ok := sc.counts[nl[sc.topologyKey]]; !ok {
					sc.counts[nl[sc.topologyKey]] = 0
				}
			}
		}
		for _, pi := range ni.pods {
			p := pi.pod
			if needAffinity {
				for i := range cy.affinity {
					if v, ok := nl[cy.affinity[i].topologyKey]; ok && cy.affinity[i].matches(p, cy.ns) {
						cy.affinityCounts[i][v]++
						cy.affinityAnywhere = true
					}
				}
				for i := range cy.antiAffinity {
					if v, ok := nl[cy.antiAffinity[i].topologyKey]; ok && cy.antiAffinity[i].matches(p, cy.ns) {
						cy.antiCounts[i][v]++
					}
				}
			}
			cy.existingAntiOf(p, nl)
			if p.DeletionTimestamp != nil || p.Namespace != cy.pod.Namespace {
				continue
			}
			for i, sc := range spreads {
				if eligible[i] && sc.selector.Matches(labels.Set(p.Labels)) {
					sc.counts[nl[sc.topologyKey]]++
				}
			}
		}
	}
	for _, sc := range spreads {
		sc.min = -1
		for _, n := range sc.counts {
			if sc.min < 0 || n < sc.min {
				sc.min = n
			}
		}
		if sc.min < 0 || int32(len(sc.counts)) < sc.minDomains {
			sc.min = 0
		}
	}
}

// existingAntiOf records where a placed pod's required anti-affinity
// keeps this pod away.
func (cy *cycle) existingAntiOf(p *corev1.Pod, nl map[string]string) {
	a := p.Spec.Affinity
	if a == nil || a.PodAntiAffinity == nil {
		return
	}
	for i := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
		t := &a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[i]
		v, ok := nl[t.TopologyKey]
		if !ok {
			continue
		}
		at, err := newAffinityTerm(p, t, 0)
		if err == nil && at.matches(cy.pod, cy.ns) {
			if cy.existingAnti[t.TopologyKey] == nil {
				cy.existingAnti[t.TopologyKey] = sets.New[string]()
			}
			cy.existingAnti[t.TopologyKey].Insert(v)
		}
	}
}

// spreadEligible says whether a node's pods count for a constraint: it
// has every constraint's topology key, and passes the pod's node
// affinity and taints when the constraint's policies honour them.
func (cy *cycle) spreadEligible(sc *spreadConstraint, all []*spreadConstraint, node *corev1.Node) bool {
	for _, o := range all {
		if _, ok := node.Labels[o.topologyKey]; !ok {
			return false
		}
	}
	if sc.honorAff {
		if ok, _ := cy.nodeAffinity.Match(node); !ok {
			return false
		}
	}
	if sc.honorTaints {
		if _, bad := untoleratedTaint(cy.pod, node); bad {
			return false
		}
	}
	return true
}

func untoleratedTaint(pod *corev1.Pod, node *corev1.Node) (corev1.Taint, bool) {
	return corev1helpers.FindMatchingUntoleratedTaint(klog.Background(), node.Spec.Taints, pod.Spec.Tolerations, func(t *corev1.Taint) bool {
		return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
	}, false)
}

// filter returns why the pod cannot go to the node (nil when it can).
func (cy *cycle) filter(ni *nodeInfo) []string {
	node, pod := ni.node, cy.pod
	if node.Spec.Unschedulable {
		t := corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}
		if !corev1helpers.TolerationsTolerateTaint(klog.Background(), pod.Spec.Tolerations, &t, false) {
			return []string{reasonUnschedulable}
		}
	}
	if t, bad := untoleratedTaint(pod, node); bad {
		return []string{fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value)}
	}
	if ok, _ := cy.nodeAffinity.Match(node); !ok {
		return []string{reasonNodeAffinity}
	}
	for _, want := range cy.pi.ports {
		for used := range ni.ports {
			if used.port == want.port && used.protocol == want.protocol &&
				(used.ip == want.ip || used.ip == "0.0.0.0" || want.ip == "0.0.0.0") {
				return []string{reasonPorts}
			}
		}
	}
	if reasons := cy.fits(ni); len(reasons) > 0 {
		return reasons
	}
	for _, sc := range cy.spread {
		v, ok := node.Labels[sc.topologyKey]
		if !ok {
			return []string{reasonSpreadMissingLabel}
		}
		if int32(sc.counts[v]+sc.selfMatch-sc.min) > sc.maxSkew {
			return []string{reasonSpread}
		}
	}
	for key, values := range cy.existingAnti {
		if v, ok := node.Labels[key]; ok && values.Has(v) {
			return []string{reasonExistingAnti}
		}
	}
	for i := range cy.affinity {
		v, ok := node.Labels[cy.affinity[i].topologyKey]
		if !ok || cy.affinityCounts[i][v] == 0 {
			// The first pod of a group that selects itself may go anywhere
			// no other pod matches yet.
			if cy.affinityAnywhere || !cy.affinity[i].matches(pod, cy.ns) || !ok {
				return []string{reasonAffinity}
			}
		}
	}
	for i := range cy.antiAffinity {
		if v, ok := node.Labels[cy.antiAffinity[i].topologyKey]; ok && cy.antiCounts[i][v] > 0 {
			return []string{reasonAntiAffinity}
		}
	}
	return nil
}

// fits checks the pod's requests against what the node has left.
func (cy *cycle) fits(ni *nodeInfo) []string {
	var reasons []string
	if int64(len(ni.pods))+1 > ni.allowedPods {
		reasons = append(reasons, reasonTooManyPods)
	}
	req, free := cy.pi.req, ni.allocatable
	if req.milliCPU > 0 && req.milliCPU > free.milliCPU-ni.requested.milliCPU {
		reasons = append(reasons, "Insufficient cpu")
	}
	if req.memory > 0 && req.memory > free.memory-ni.requested.memory {
		reasons = append(reasons, "Insufficient memory")
	}
	if req.ephemeral > 0 && req.ephemeral > free.ephemeral-ni.requested.ephemeral {
		reasons = append(reasons, "Insufficient ephemeral-storage")
	}
	for name, v := range req.scalar {
		if v > 0 && v > free.scalar[name]-ni.requested.scalar[name] {
			reasons = append(reasons, "Insufficient "+string(name))
		}
	}
	return reasons
}
