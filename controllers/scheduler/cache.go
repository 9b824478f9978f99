package scheduler

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	resourcehelper "k8s.io/component-helpers/resource"
)

// Requests used for scoring pods that ask for nothing, as upstream.
const (
	defaultMilliCPURequest = 100               // 0.1 core
	defaultMemoryRequest   = 200 * 1024 * 1024 // 200 MiB
)

// resources is a pod's requests or a node's allocatable, in the units
// the scheduler compares.
type resources struct {
	milliCPU, memory, ephemeral int64
	scalar                      map[corev1.ResourceName]int64
}

func resourcesOf(list corev1.ResourceList) resources {
	r := resources{}
	for name, q := range list {
		switch name {
		case corev1.ResourceCPU:
			r.milliCPU = q.MilliValue()
		case corev1.ResourceMemory:
			r.memory = q.Value()
		case corev1.ResourceEphemeralStorage:
			r.ephemeral = q.Value()
		case corev1.ResourcePods:
		default:
			if r.scalar == nil {
				r.scalar = map[corev1.ResourceName]int64{}
			}
			r.scalar[name] = q.Value()
		}
	}
	return r
}

func (r *resources) add(o resources, sign int64) {
	r.milliCPU += sign * o.milliCPU
	r.memory += sign * o.memory
	r.ephemeral += sign * o.ephemeral
	for k, v := range o.scalar {
		if r.scalar == nil {
			r.scalar = map[corev1.ResourceName]int64{}
		}
		r.scalar[k] += sign * v
	}
}

type hostPort struct {
	ip       string
	protocol corev1.Protocol
	port     int32
}

// podInfo is what the scheduler keeps of a pod placed on a node.
type podInfo struct {
	pod                 *corev1.Pod
	req                 resources
	nonZeroCPU, nonZero int64
	ports               []hostPort
}

func newPodInfo(pod *corev1.Pod) *podInfo {
	pi := &podInfo{pod: pod, req: resourcesOf(resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{}))}
	nz := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{NonMissingContainerRequests: corev1.ResourceList{
		corev1.ResourceCPU:    *newQuantityMilli(defaultMilliCPURequest),
		corev1.ResourceMemory: *newQuantity(defaultMemoryRequest),
	}})
	pi.nonZeroCPU, pi.nonZero = nz.Cpu().MilliValue(), nz.Memory().Value()
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			for _, p := range c.Ports {
				if p.HostPort <= 0 {
					continue
				}
				proto := p.Protocol
				if proto == "" {
					proto = corev1.ProtocolTCP
				}
				ip := p.HostIP
				if ip == "" {
					ip = "0.0.0.0"
				}
				pi.ports = append(pi.ports, hostPort{ip: ip, protocol: proto, port: p.HostPort})
			}
		}
	}
	return pi
}

// nodeInfo is a node with the pods placed on it and their sums.
type nodeInfo struct {
	node                      *corev1.Node
	allocatable               resources
	allowedPods               int64
	pods                      map[types.UID]*podInfo
	requested                 resources
	nonZeroCPU, nonZeroMemory int64
	ports                     map[hostPort]int
}

func newNodeInfo() *nodeInfo {
	return &nodeInfo{pods: map[types.UID]*podInfo{}, ports: map[hostPort]int{}}
}

func (n *nodeInfo) setNode(node *corev1.Node) {
	n.node = node
	n.allocatable = resourcesOf(node.Status.Allocatable)
	n.allowedPods = node.Status.Allocatable.Pods().Value()
}

func (n *nodeInfo) addPod(pi *podInfo) {
	n.pods[pi.pod.UID] = pi
	n.requested.add(pi.req, 1)
	n.nonZeroCPU += pi.nonZeroCPU
	n.nonZeroMemory += pi.nonZero
	for _, p := range pi.ports {
		n.ports[p]++
	}
}

func (n *nodeInfo) removePod(uid types.UID) {
	pi, ok := n.pods[uid]
	if !ok {
		return
	}
	delete(n.pods, uid)
	n.requested.add(pi.req, -1)
	n.nonZeroCPU -= pi.nonZeroCPU
	n.nonZeroMemory -= pi.nonZero
	for _, p := range pi.ports {
		if n.ports[p]--; n.ports[p] <= 0 {
			delete(n.ports, p)
		}
	}
}

// cache is the scheduler's view of the cluster: nodes with the pods
// placed on them, including pods assumed bound while their binding is in
// flight.
type cache struct {
	mu      sync.RWMutex
	nodes   map[string]*nodeInfo
	placed  map[types.UID]string // pod → node
	assumed map[types.UID]bool
	// antiPods are the placed pods with required anti-affinity, which
	// every scheduling decision must respect.
	antiPods map[types.UID]*podInfo
}

func newCache() *cache {
	return &cache{nodes: map[string]*nodeInfo{}, placed: map[types.UID]string{}, assumed: map[types.UID]bool{}, antiPods: map[types.UID]*podInfo{}}
}

func hasRequiredAntiAffinity(p *corev1.Pod) bool {
	a := p.Spec.Affinity
	return a != nil && a.PodAntiAffinity != nil && len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) > 0
}

// place puts a pod on a node (lock held).
func (c *cache) placeLocked(pod *corev1.Pod, node string) {
	pi := newPodInfo(pod)
	c.nodeInfo(node).addPod(pi)
	c.placed[pod.UID] = node
	if hasRequiredAntiAffinity(pod) {
		c.antiPods[pod.UID] = pi
	}
}

func (c *cache) nodeInfo(name string) *nodeInfo {
	ni, ok := c.nodes[name]
	if !ok {
		ni = newNodeInfo()
		c.nodes[name] = ni
	}
	return ni
}

func (c *cache) upsertNode(node *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nodeInfo(node.Name).setNode(node)
}

func (c *cache) deleteNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ni, ok := c.nodes[name]
	if !ok {
		return
	}
	if len(ni.pods) == 0 {
		delete(c.nodes, name)
		return
	}
	ni.node = nil // pods still there; they go when deleted
}

// upsertPod records a pod bound to a node (or forgets it once it is
// terminal); it replaces any assumption about it.
func (c *cache) upsertPod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(pod.UID)
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return
	}
	c.placeLocked(pod, pod.Spec.NodeName)
}

func (c *cache) deletePod(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(uid)
}

func (c *cache) removeLocked(uid types.UID) {
	name, ok := c.placed[uid]
	if !ok {
		return
	}
	delete(c.placed, uid)
	delete(c.assumed, uid)
	delete(c.antiPods, uid)
	ni := c.nodes[name]
	ni.removePod(uid)
	if ni.node == nil && len(ni.pods) == 0 {
		delete(c.nodes, name)
	}
}

// assume places a pod on a node before its binding is confirmed.
func (c *cache) assume(pod *corev1.Pod, node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(pod.UID)
	p := pod.DeepCopy()
	p.Spec.NodeName = node
	c.placeLocked(p, node)
	c.assumed[pod.UID] = true
}

// forget drops an assumption whose binding failed.
func (c *cache) forget(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.assumed[uid] {
		c.removeLocked(uid)
	}
}

func (c *cache) isPlaced(uid types.UID) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.placed[uid]
	return ok
}
