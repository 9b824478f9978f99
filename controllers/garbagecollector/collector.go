package garbagecollector

import (
	"context"
	"encoding/json"
	"fmt"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// rediscoverEvery is how often new resource types (CRDs) are picked up.
const rediscoverEvery = 15 * time.Second

// ignored resources are never owners or dependents worth tracking.
var ignored = sets.New(
	schema.GroupResource{Resource: "events"},
	schema.GroupResource{Group: "events.k8s.io", Resource: "events"},
)

// Collector is the garbage collector; it is a manager.Runnable.
type Collector struct {
	metadata  metadata.Interface
	discovery discovery.DiscoveryInterface
	mapper    *restmapper.DeferredDiscoveryRESTMapper
	graph     *graph
	deleteQ   workqueue.TypedRateLimitingInterface[types.UID]
	orphanQ   workqueue.TypedRateLimitingInterface[types.UID]

	mu       sync.Mutex
	monitors map[schema.GroupVersionResource]context.CancelFunc
	synced   []cache.InformerSynced
}

// New returns a collector using cfg.
func New(cfg *rest.Config) (*Collector, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = rest.NoWarnings{}
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	cached := memory.NewMemCacheClient(dc)
	limiter := func() workqueue.TypedRateLimiter[types.UID] {
		return workqueue.NewTypedItemExponentialFailureRateLimiter[types.UID](5*time.Millisecond, 30*time.Second)
	}
	return &Collector{
		metadata: md, discovery: cached, mapper: restmapper.NewDeferredDiscoveryRESTMapper(cached), graph: newGraph(),
		deleteQ:  workqueue.NewTypedRateLimitingQueueWithConfig(limiter(), workqueue.TypedRateLimitingQueueConfig[types.UID]{Name: "gc-delete"}),
		orphanQ:  workqueue.NewTypedRateLimitingQueueWithConfig(limiter(), workqueue.TypedRateLimitingQueueConfig[types.UID]{Name: "gc-orphan"}),
		monitors: map[schema.GroupVersionResource]context.CancelFunc{},
	}, nil
}

// Start watches every deletable resource and processes the graph until
// ctx ends.
func (c *Collector) Start(ctx context.Context) error {
	logger := klog.FromContext(ctx).WithName("garbagecollector")
	ctx = klog.NewContext(ctx, logger)
	defer c.deleteQ.ShutDown()
	defer c.orphanQ.ShutDown()
	if err := c.syncMonitors(ctx); err != nil {
		logger.Error(err, "discovering resources (will retry)")
	}
	c.mu.Lock()
	synced := append([]cache.InformerSynced(nil), c.synced...)
	c.mu.Unlock()
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return nil
	}
	go func() {
		t := time.NewTicker(rediscoverEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := c.syncMonitors(ctx); err != nil {
					logger.V(2).Info("rediscovering resources", "err", err)
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for c.processNext(ctx, c.deleteQ, c.attemptToDelete) {
			}
		}()
		go func() {
			defer wg.Done()
			for c.processNext(ctx, c.orphanQ, c.orphanDependents) {
			}
		}()
	}
	logger.Info("garbage collector running")
	<-ctx.Done()
	c.deleteQ.ShutDown()
	c.orphanQ.ShutDown()
	wg.Wait()
	c.mu.Lock()
	for _, stop := range c.monitors {
		stop()
	}
	c.mu.Unlock()
	return nil
}

// deletable lists the preferred version of every resource that can be
// listed, watched and deleted.
func (c *Collector) deletable() (map[schema.GroupVersionResource]bool, error) {
	if cached, ok := c.discovery.(discovery.CachedDiscoveryInterface); ok {
		cached.Invalidate()
	}
	lists, err := c.discovery.ServerPreferredResources()
	if err != nil && len(lists) == 0 {
		return nil, err
	}
	out := map[schema.GroupVersionResource]bool{}
	for _, l := range lists {
		gv, perr := schema.ParseGroupVersion(l.GroupVersion)
		if perr != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || ignored.Has(schema.GroupResource{Group: gv.Group, Resource: r.Name}) {
				continue
			}
			verbs := sets.New(r.Verbs...)
			if verbs.HasAll("list", "watch", "delete") {
				out[gv.WithResource(r.Name)] = true
			}
		}
	}
	return out, err
}

// syncMonitors starts a metadata informer for each new deletable
// resource and stops those of resources that went away.
func (c *Collector) syncMonitors(ctx context.Context) error {
	want, err := c.deletable()
	if want == nil {
		return err
	}
	c.mapper.Reset()
	c.mu.Lock()
	defer c.mu.Unlock()
	for gvr, stop := range c.monitors {
		if !want[gvr] {
			stop()
			delete(c.monitors, gvr)
		}
	}
	for gvr := range want {
		if _, ok := c.monitors[gvr]; ok {
			continue
		}
		kind, kerr := c.mapper.KindFor(gvr)
		if kerr != nil {
			continue
		}
		inf := metadatainformer.NewFilteredMetadataInformer(c.metadata, gvr, metav1.NamespaceAll, 0, cache.Indexers{}, nil).Informer()
		// The graph needs owners and finalizers, not who wrote which field.
		if err := inf.SetTransform(ctrlcache.TransformStripManagedFields()); err != nil {
			continue
		}
		handle := func(obj any) {
			if m, ok := obj.(*metav1.PartialObjectMetadata); ok {
				c.observe(gvr, kind, m)
			}
		}
		if _, herr := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    handle,
			UpdateFunc: func(_, obj any) { handle(obj) },
			DeleteFunc: func(obj any) {
				if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
					obj = t.Obj
				}
				if m, ok := obj.(*metav1.PartialObjectMetadata); ok {
					c.forget(m.UID)
				}
			},
		}); herr != nil {
			continue
		}
		mctx, cancel := context.WithCancel(ctx)
		go inf.RunWithContext(mctx)
		c.monitors[gvr] = cancel
		c.synced = append(c.synced, inf.HasSynced)
	}
	return err
}

// observe records an object's metadata and queues the work it implies.
func (c *Collector) observe(gvr schema.GroupVersionResource, kind schema.GroupVersionKind, m *metav1.PartialObjectMetadata) {
	ref := objectRef{gvr: gvr, apiVersion: kind.GroupVersion().String(), kind: kind.Kind, namespace: m.Namespace, name: m.Name, uid: m.UID}
	n, ownersChanged := c.graph.upsert(ref, m)
	switch {
	case n.deleting && n.hasFinalizer(metav1.FinalizerOrphanDependents):
		c.orphanQ.Add(m.UID)
	case n.deletingDependents():
		c.deleteQ.Add(m.UID)
	case ownersChanged && len(m.OwnerReferences) > 0:
		// New owners are checked once; an owner that goes away later
		// brings its dependents back (forget).
		c.deleteQ.Add(m.UID)
	}
}

// forget drops a deleted object; its dependents may now be garbage, and
// an owner waiting for it in the foreground may now go.
func (c *Collector) forget(uid types.UID) {
	n, ok := c.graph.get(uid)
	var owners []metav1.OwnerReference
	if ok {
		c.graph.mu.RLock()
		owners = append(owners, n.owners...)
		c.graph.mu.RUnlock()
	}
	for _, d := range c.graph.remove(uid) {
		c.deleteQ.Add(d.ref.uid)
	}
	for _, o := range owners {
		if owner, ok := c.graph.get(o.UID); ok {
			c.graph.mu.RLock()
			waiting := owner.deletingDependents()
			c.graph.mu.RUnlock()
			if waiting {
				c.deleteQ.Add(o.UID)
			}
		}
	}
}

func (c *Collector) processNext(ctx context.Context, q workqueue.TypedRateLimitingInterface[types.UID], fn func(context.Context, types.UID) error) bool {
	uid, quit := q.Get()
	if quit {
		return false
	}
	defer q.Done(uid)
	if err := fn(ctx, uid); err != nil {
		if !apierrors.IsConflict(err) && ctx.Err() == nil {
			klog.FromContext(ctx).V(2).Info("garbage collecting, will retry", "uid", uid, "err", err)
		}
		q.AddRateLimited(uid)
		return true
	}
	q.Forget(uid)
	return true
}

// ownerState classifies an owner reference.
type ownerState int

const (
	solid ownerState = iota
	dangling
	waitingForDependents
)

// owner looks an owner up in the graph, or asks the API server when the
// graph does not know it (its kind may be unwatched, or not synced yet).
func (c *Collector) owner(ctx context.Context, dependent objectRef, o metav1.OwnerReference) (ownerState, error) {
	if n, ok := c.graph.get(o.UID); ok {
		c.graph.mu.RLock()
		defer c.graph.mu.RUnlock()
		if n.deletingDependents() {
			return waitingForDependents, nil
		}
		return solid, nil
	}
	gv, err := schema.ParseGroupVersion(o.APIVersion)
	if err != nil {
		return dangling, nil
	}
	mapping, err := c.mapper.RESTMapping(gv.WithKind(o.Kind).GroupKind(), gv.Version)
	if meta.IsNoMatchError(err) {
		c.mapper.Reset()
		if mapping, err = c.mapper.RESTMapping(gv.WithKind(o.Kind).GroupKind(), gv.Version); meta.IsNoMatchError(err) {
			return dangling, nil // the owner's kind does not exist
		}
	}
	if err != nil {
		return solid, err
	}
	ns := ""
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		ns = dependent.namespace
	}
	got, err := c.metadata.Resource(mapping.Resource).Namespace(ns).Get(ctx, o.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return dangling, nil
	case err != nil:
		return solid, err
	case got.UID != o.UID:
		return dangling, nil
	case got.DeletionTimestamp != nil && slices.Contains(got.Finalizers, metav1.FinalizerDeleteDependents):
		return waitingForDependents, nil
	}
	return solid, nil
}

// attemptToDelete deletes an object whose owners are all gone, drops
// references to owners that are gone, and finishes foreground deletions.
func (c *Collector) attemptToDelete(ctx context.Context, uid types.UID) error {
	s, ok := c.graph.snapshot(uid)
	if !ok {
		return nil
	}
	if s.deleting && s.hasFinalizer(metav1.FinalizerDeleteDependents) {
		return c.finishForeground(ctx, s)
	}
	if s.deleting || len(s.owners) == 0 {
		return nil
	}
	var alive, gone, waiting []metav1.OwnerReference
	for _, o := range s.owners {
		st, err := c.owner(ctx, s.ref, o)
		if err != nil {
			return err
		}
		switch st {
		case solid:
			alive = append(alive, o)
		case dangling:
			gone = append(gone, o)
		case waitingForDependents:
			waiting = append(waiting, o)
		}
	}
	switch {
	case len(alive) > 0:
		if len(gone) == 0 {
			return nil
		}
		// Keep the object for its live owners; forget the dead ones.
		return c.setOwners(ctx, s, slices.DeleteFunc(append([]metav1.OwnerReference(nil), s.owners...), func(o metav1.OwnerReference) bool {
			return slices.ContainsFunc(gone, func(g metav1.OwnerReference) bool { return g.UID == o.UID })
		}))
	case len(waiting) > 0 && len(s.dependents) > 0:
		// An owner waits for this object in the foreground; so must it
		// wait for its own dependents.
		return c.delete(ctx, s, metav1.DeletePropagationForeground)
	default:
		return c.delete(ctx, s, metav1.DeletePropagationBackground)
	}
}

func (c *Collector) delete(ctx context.Context, s snapshot, policy metav1.DeletionPropagation) error {
	err := c.metadata.Resource(s.ref.gvr).Namespace(s.ref.namespace).Delete(ctx, s.ref.name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &s.ref.uid}, PropagationPolicy: &policy})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting %s %s/%s: %w", s.ref.kind, s.ref.namespace, s.ref.name, err)
	}
	klog.FromContext(ctx).V(2).Info("deleted object whose owners are gone", "kind", s.ref.kind, "object", klog.KRef(s.ref.namespace, s.ref.name), "propagation", policy)
	return nil
}

// finishForeground removes the foregroundDeletion finalizer once no
// dependent blocks the owner, and otherwise makes sure they are going.
func (c *Collector) finishForeground(ctx context.Context, s snapshot) error {
	if len(s.blocking) > 0 {
		for _, d := range s.dependents {
			c.deleteQ.Add(d.uid)
		}
		return nil
	}
	return c.removeFinalizer(ctx, s, metav1.FinalizerDeleteDependents)
}

// orphanDependents removes an owner deleted with the Orphan policy from
// its dependents' references, then lets it go.
func (c *Collector) orphanDependents(ctx context.Context, uid types.UID) error {
	s, ok := c.graph.snapshot(uid)
	if !ok || !s.deleting || !s.hasFinalizer(metav1.FinalizerOrphanDependents) {
		return nil
	}
	for _, d := range s.dependents {
		ds, ok := c.graph.snapshot(d.uid)
		if !ok {
			continue
		}
		if err := c.setOwners(ctx, ds, slices.DeleteFunc(append([]metav1.OwnerReference(nil), ds.owners...), func(o metav1.OwnerReference) bool { return o.UID == uid })); err != nil {
			return err
		}
	}
	return c.removeFinalizer(ctx, s, metav1.FinalizerOrphanDependents)
}

// setOwners replaces an object's owner references, guarded by its UID and
// resourceVersion (a merge patch works for custom resources too).
func (c *Collector) setOwners(ctx context.Context, s snapshot, owners []metav1.OwnerReference) error {
	if owners == nil {
		owners = []metav1.OwnerReference{}
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"ownerReferences": owners, "uid": s.ref.uid, "resourceVersion": s.resourceVersion}})
	_, err := c.metadata.Resource(s.ref.gvr).Namespace(s.ref.namespace).Patch(ctx, s.ref.name, types.MergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func (c *Collector) removeFinalizer(ctx context.Context, s snapshot, finalizer string) error {
	finalizers := slices.DeleteFunc(append([]string(nil), s.finalizers...), func(f string) bool { return f == finalizer })
	if finalizers == nil {
		finalizers = []string{}
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"finalizers": finalizers, "uid": s.ref.uid, "resourceVersion": s.resourceVersion}})
	_, err := c.metadata.Resource(s.ref.gvr).Namespace(s.ref.namespace).Patch(ctx, s.ref.name, types.MergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
