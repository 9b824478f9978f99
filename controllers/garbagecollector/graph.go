package garbagecollector

import (
	"slices"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// objectRef names an object in the graph.
type objectRef struct {
	gvr              schema.GroupVersionResource
	apiVersion, kind string
	namespace, name  string
	uid              types.UID
}

// node is one object of the graph.
type node struct {
	ref             objectRef
	owners          []metav1.OwnerReference
	dependents      map[types.UID]*node
	resourceVersion string
	deleting        bool // has a deletionTimestamp
	finalizers      []string
}

func (n *node) hasFinalizer(f string) bool { return slices.Contains(n.finalizers, f) }

// deletingDependents: deleted in the foreground, waiting for dependents.
func (n *node) deletingDependents() bool {
	return n.deleting && n.hasFinalizer(metav1.FinalizerDeleteDependents)
}

// graph holds every watched object and its owner links.
type graph struct {
	mu    sync.RWMutex
	nodes map[types.UID]*node
	// waiting holds dependents whose owner is not (yet) in the graph.
	waiting map[types.UID]map[types.UID]*node
}

func newGraph() *graph {
	return &graph{nodes: map[types.UID]*node{}, waiting: map[types.UID]map[types.UID]*node{}}
}

// upsert records an object; it returns the node and whether its owner
// references changed.
func (g *graph) upsert(ref objectRef, meta metav1.Object) (*node, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n, ok := g.nodes[ref.uid]
	if !ok {
		n = &node{dependents: map[types.UID]*node{}}
		g.nodes[ref.uid] = n
		// Dependents that arrived before their owner.
		for uid, d := range g.waiting[ref.uid] {
			n.dependents[uid] = d
		}
		delete(g.waiting, ref.uid)
	}
	n.ref = ref
	n.resourceVersion = meta.GetResourceVersion()
	n.deleting = meta.GetDeletionTimestamp() != nil
	n.finalizers = meta.GetFinalizers()
	owners := meta.GetOwnerReferences()
	changed := !ok || !slices.EqualFunc(owners, n.owners, func(a, b metav1.OwnerReference) bool { return a.UID == b.UID })
	if changed {
		g.unlinkLocked(n)
		n.owners = append([]metav1.OwnerReference(nil), owners...)
		g.linkLocked(n)
	} else {
		n.owners = append([]metav1.OwnerReference(nil), owners...)
	}
	return n, changed
}

func (g *graph) linkLocked(n *node) {
	for _, o := range n.owners {
		if owner, ok := g.nodes[o.UID]; ok {
			owner.dependents[n.ref.uid] = n
			continue
		}
		if g.waiting[o.UID] == nil {
			g.waiting[o.UID] = map[types.UID]*node{}
		}
		g.waiting[o.UID][n.ref.uid] = n
	}
}

func (g *graph) unlinkLocked(n *node) {
	for _, o := range n.owners {
		if owner, ok := g.nodes[o.UID]; ok {
			delete(owner.dependents, n.ref.uid)
		}
		if w := g.waiting[o.UID]; w != nil {
			delete(w, n.ref.uid)
			if len(w) == 0 {
				delete(g.waiting, o.UID)
			}
		}
	}
}

// remove drops a deleted object and returns its dependents.
func (g *graph) remove(uid types.UID) []*node {
	g.mu.Lock()
	defer g.mu.Unlock()
	n, ok := g.nodes[uid]
	if !ok {
		return nil
	}
	g.unlinkLocked(n)
	delete(g.nodes, uid)
	deps := make([]*node, 0, len(n.dependents))
	for _, d := range n.dependents {
		deps = append(deps, d)
		// Dependents now wait for an owner that is gone; keep them
		// reachable should an object with this UID ever reappear.
		if g.waiting[uid] == nil {
			g.waiting[uid] = map[types.UID]*node{}
		}
		g.waiting[uid][d.ref.uid] = d
	}
	return deps
}

func (g *graph) get(uid types.UID) (*node, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	n, ok := g.nodes[uid]
	return n, ok
}

// snapshot copies what processing a node needs, under the lock.
type snapshot struct {
	ref             objectRef
	owners          []metav1.OwnerReference
	dependents      []objectRef
	blocking        []objectRef // dependents with blockOwnerDeletion
	resourceVersion string
	deleting        bool
	finalizers      []string
}

func (g *graph) snapshot(uid types.UID) (snapshot, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	n, ok := g.nodes[uid]
	if !ok {
		return snapshot{}, false
	}
	s := snapshot{ref: n.ref, owners: append([]metav1.OwnerReference(nil), n.owners...), resourceVersion: n.resourceVersion,
		deleting: n.deleting, finalizers: append([]string(nil), n.finalizers...)}
	for _, d := range n.dependents {
		s.dependents = append(s.dependents, d.ref)
		for _, o := range d.owners {
			if o.UID == uid && o.BlockOwnerDeletion != nil && *o.BlockOwnerDeletion {
				s.blocking = append(s.blocking, d.ref)
			}
		}
	}
	return s, true
}

func (s snapshot) hasFinalizer(f string) bool { return slices.Contains(s.finalizers, f) }
