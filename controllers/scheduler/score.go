package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/klog/v2"
)

// Score weights of kube-scheduler's default profile.
const (
	weightFit      = 1
	weightBalanced = 1
	weightNodeAff  = 2
	weightTaints   = 3
	weightPodAff   = 2
	weightSpread   = 2
	maxNodeScore   = 100
)

// score ranks the feasible nodes; higher is better.
func (cy *cycle) score(nodes []*nodeInfo) []int64 {
	n := len(nodes)
	total := make([]int64, n)
	nodeAff := make([]int64, n)
	taints := make([]int64, n)
	podAff := make([]int64, n)
	spread := make([]int64, n)
	for i, ni := range nodes {
		total[i] += weightFit*leastAllocated(cy.pi, ni) + weightBalanced*balanced(cy.pi, ni)
		if cy.preferred != nil {
			nodeAff[i] = cy.preferred.Score(ni.node)
		}
		taints[i] = preferNoScheduleTaints(cy.pod, ni.node)
		podAff[i] = cy.podAffinityScore(ni)
		spread[i] = cy.spreadScore(ni)
	}
	add := func(raw []int64, weight int64, reverse bool) {
		lo, hi := raw[0], raw[0]
		for _, v := range raw {
			lo, hi = min(lo, v), max(hi, v)
		}
		for i, v := range raw {
			var s int64
			switch {
			case hi == lo && reverse:
				s = maxNodeScore
			case hi == lo:
				s = 0
				if hi > 0 {
					s = maxNodeScore
				}
			case reverse:
				s = (hi - v) * maxNodeScore / (hi - lo)
			default:
				s = (v - lo) * maxNodeScore / (hi - lo)
			}
			total[i] += weight * s
		}
	}
	if n > 0 {
		add(nodeAff, weightNodeAff, false)
		add(taints, weightTaints, true)
		add(podAff, weightPodAff, false)
		add(spread, weightSpread, true)
	}
	return total
}

// leastAllocated favours nodes with the most CPU and memory left,
// counting pods without requests at upstream's default requests.
func leastAllocated(pi *podInfo, ni *nodeInfo) int64 {
	part := func(requested, capacity int64) int64 {
		if capacity <= 0 || requested > capacity {
			return 0
		}
		return (capacity - requested) * maxNodeScore / capacity
	}
	return (part(ni.nonZeroCPU+pi.nonZeroCPU, ni.allocatable.milliCPU) + part(ni.nonZeroMemory+pi.nonZero, ni.allocatable.memory)) / 2
}

// balanced favours nodes whose CPU and memory would be used in equal
// proportions.
func balanced(pi *podInfo, ni *nodeInfo) int64 {
	frac := func(requested, capacity int64) float64 {
		if capacity <= 0 {
			return 1
		}
		return min(float64(requested)/float64(capacity), 1)
	}
	cpu := frac(ni.requested.milliCPU+pi.req.milliCPU, ni.allocatable.milliCPU)
	mem := frac(ni.requested.memory+pi.req.memory, ni.allocatable.memory)
	diff := cpu - mem
	if diff < 0 {
		diff = -diff
	}
	return int64((1 - diff/2) * maxNodeScore)
}

func preferNoScheduleTaints(pod *corev1.Pod, node *corev1.Node) int64 {
	var n int64
	for i := range node.Spec.Taints {
		t := &node.Spec.Taints[i]
		if t.Effect == corev1.TaintEffectPreferNoSchedule && !corev1helpers.TolerationsTolerateTaint(klog.Background(), pod.Spec.Tolerations, t, false) {
			n++
		}
	}
	return n
}

// podAffinityScore adds the weights of the pod's preferred affinity
// terms for each matching pod in the node's domain, and subtracts those
// of its preferred anti-affinity terms.
func (cy *cycle) podAffinityScore(ni *nodeInfo) int64 {
	if len(cy.prefAffinity)+len(cy.prefAntiAffinity) == 0 {
		return 0
	}
	var s int64
	for _, terms := range []struct {
		list []affinityTerm
		sign int64
	}{{cy.prefAffinity, 1}, {cy.prefAntiAffinity, -1}} {
		for i := range terms.list {
			t := &terms.list[i]
			v, ok := ni.node.Labels[t.topologyKey]
			if !ok {
				continue
			}
			s += terms.sign * int64(t.weight) * int64(cy.domainMatches(t, v))
		}
	}
	return s
}

// domainMatches counts the pods matching a term in one topology domain.
// It is only used for preferred terms, which are rare, so it walks the
// snapshot directly; the caller holds the cache lock through cycle.cache.
func (cy *cycle) domainMatches(t *affinityTerm, value string) int {
	key := t.topologyKey + "\x00" + value
	if n, ok := cy.prefCounts[key]; ok {
		return n
	}
	n := 0
	for _, ni := range cy.nodes {
		if ni.node == nil || ni.node.Labels[t.topologyKey] != value {
			continue
		}
		for _, pi := range ni.pods {
			if t.matches(pi.pod, cy.ns) {
				n++
			}
		}
	}
	cy.prefCounts[key] = n
	return n
}

// spreadScore sums, over ScheduleAnyway constraints, the matching pods
// already in the node's domains: fewer is better.
func (cy *cycle) spreadScore(ni *nodeInfo) int64 {
	var s int64
	for _, sc := range cy.softSpread {
		if v, ok := ni.node.Labels[sc.topologyKey]; ok {
			s += int64(sc.counts[v])
		}
	}
	return s
}
