package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Name is the schedulerName pods ask for and the events' reporter.
const Name = corev1.DefaultSchedulerName

// Pods that fit nowhere are tried again when the cluster changes, and
// at the latest after this long.
const unschedulableFlush = time.Minute

// Scheduler binds pending pods to nodes. It is a manager.Runnable.
type Scheduler struct {
	client   kubernetes.Interface
	informer ctrlcache.Cache
	reader   client.Reader
	recorder events.EventRecorder
	clock    clock.WithTicker

	cache *cache
	queue workqueue.TypedRateLimitingInterface[string]

	mu            sync.Mutex
	unschedulable map[string]bool // keys parked until the cluster changes
}

// New returns a scheduler reading pods, nodes and namespaces from the
// manager's cache and binding through c.
func New(c kubernetes.Interface, informer ctrlcache.Cache, recorder events.EventRecorder, clk clock.WithTicker) *Scheduler {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Scheduler{
		client: c, informer: informer, reader: informer, recorder: recorder, clock: clk,
		cache: newCache(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, 10*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "scheduler", Clock: clk}),
		unschedulable: map[string]bool{},
	}
}

// responsible says whether a pod waits for this scheduler.
func responsible(p *corev1.Pod) bool {
	return p.Spec.NodeName == "" && p.Spec.SchedulerName == Name && len(p.Spec.SchedulingGates) == 0 &&
		p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

func key(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

// Start runs the scheduling loop until ctx ends.
func (s *Scheduler) Start(ctx context.Context) error {
	logger := klog.FromContext(ctx).WithName("scheduler")
	ctx = klog.NewContext(ctx, logger)
	defer s.queue.ShutDown()
	podInformer, err := s.informer.GetInformer(ctx, &corev1.Pod{})
	if err != nil {
		return err
	}
	nodeInformer, err := s.informer.GetInformer(ctx, &corev1.Node{})
	if err != nil {
		return err
	}
	if _, err := s.informer.GetInformer(ctx, &corev1.Namespace{}); err != nil {
		return err
	}
	if _, err := podInformer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.onPod(nil, obj.(*corev1.Pod)) },
		UpdateFunc: func(old, obj any) { s.onPod(old.(*corev1.Pod), obj.(*corev1.Pod)) },
		DeleteFunc: s.onPodDelete,
	}); err != nil {
		return err
	}
	if _, err := nodeInformer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			s.cache.upsertNode(obj.(*corev1.Node))
			s.retryUnschedulable()
		},
		UpdateFunc: func(old, obj any) {
			o, n := old.(*corev1.Node), obj.(*corev1.Node)
			s.cache.upsertNode(n)
			if nodeSchedulingChanged(o, n) {
				s.retryUnschedulable()
			}
		},
		DeleteFunc: func(obj any) {
			if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if n, ok := obj.(*corev1.Node); ok {
				s.cache.deleteNode(n.Name)
			}
		},
	}); err != nil {
		return err
	}
	if !s.informer.WaitForCacheSync(ctx) {
		return ctx.Err()
	}
	go func() {
		t := s.clock.NewTicker(unschedulableFlush)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C():
				s.retryUnschedulable()
			}
		}
	}()
	go func() {
		<-ctx.Done()
		s.queue.ShutDown()
	}()
	logger.Info("scheduler running")
	for s.scheduleOne(ctx) {
	}
	return nil
}

func nodeSchedulingChanged(o, n *corev1.Node) bool {
	return o.Spec.Unschedulable != n.Spec.Unschedulable ||
		!apiequality.Semantic.DeepEqual(o.Spec.Taints, n.Spec.Taints) ||
		!apiequality.Semantic.DeepEqual(o.Labels, n.Labels) ||
		!apiequality.Semantic.DeepEqual(o.Status.Allocatable, n.Status.Allocatable)
}

func (s *Scheduler) onPod(old, p *corev1.Pod) {
	if p.Spec.NodeName != "" {
		s.cache.upsertPod(p)
		s.forgetUnschedulable(key(p))
		if terminal := p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed; terminal && (old == nil || old.Status.Phase != p.Status.Phase) {
			s.retryUnschedulable()
		} else if old == nil || old.Spec.NodeName == "" {
			s.retryAffinityWaiters()
		}
		return
	}
	if !responsible(p) {
		return
	}
	// Status-only updates (our own condition) do not make a pod more
	// schedulable; spec or label changes (gates removed, tolerations
	// added) may.
	if old != nil && responsible(old) && apiequality.Semantic.DeepEqual(old.Spec, p.Spec) && apiequality.Semantic.DeepEqual(old.Labels, p.Labels) {
		return
	}
	s.forgetUnschedulable(key(p))
	s.queue.Add(key(p))
}

func (s *Scheduler) onPodDelete(obj any) {
	if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	s.forgetUnschedulable(key(p))
	if s.cache.isPlaced(p.UID) {
		s.cache.deletePod(p.UID)
		s.retryUnschedulable()
	}
}

func (s *Scheduler) forgetUnschedulable(k string) {
	s.mu.Lock()
	delete(s.unschedulable, k)
	s.mu.Unlock()
}

// retryUnschedulable moves every parked pod back to the queue (each
// with its own back-off).
func (s *Scheduler) retryUnschedulable() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.unschedulable {
		s.queue.AddRateLimited(k)
		delete(s.unschedulable, k)
	}
}

// retryAffinityWaiters moves parked pods with required pod affinity back
// to the queue: a newly placed pod may be what they wait for.
func (s *Scheduler) retryAffinityWaiters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, affinity := range s.unschedulable {
		if affinity {
			s.queue.AddRateLimited(k)
			delete(s.unschedulable, k)
		}
	}
}

func (s *Scheduler) scheduleOne(ctx context.Context) bool {
	k, quit := s.queue.Get()
	if quit {
		return false
	}
	defer s.queue.Done(k)
	ns, name, _ := toolscache.SplitMetaNamespaceKey(k)
	pod := &corev1.Pod{}
	if err := s.reader.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, pod); err != nil {
		s.queue.Forget(k)
		return true
	}
	if !responsible(pod) || s.cache.isPlaced(pod.UID) {
		s.queue.Forget(k)
		return true
	}
	node, fitErr, err := s.place(pod)
	switch {
	case err != nil:
		klog.FromContext(ctx).Error(err, "scheduling pod", "pod", klog.KObj(pod))
		s.queue.AddRateLimited(k)
	case fitErr != "":
		s.mu.Lock()
		s.unschedulable[k] = hasRequiredPodAffinity(pod)
		s.mu.Unlock()
		s.recorder.Eventf(pod, nil, corev1.EventTypeWarning, "FailedScheduling", "Scheduling", "%s", fitErr)
		if err := s.setUnschedulable(ctx, pod, fitErr); err != nil && !apierrors.IsNotFound(err) {
			klog.FromContext(ctx).Error(err, "recording unschedulable pod", "pod", klog.KObj(pod))
		}
	default:
		s.queue.Forget(k)
		s.cache.assume(pod, node)
		go s.bind(ctx, pod, node)
	}
	return true
}

func hasRequiredPodAffinity(p *corev1.Pod) bool {
	a := p.Spec.Affinity
	return a != nil && a.PodAffinity != nil && len(a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution) > 0
}

// place picks the best node for a pod, or explains why none fits.
func (s *Scheduler) place(pod *corev1.Pod) (string, string, error) {
	s.cache.mu.RLock()
	defer s.cache.mu.RUnlock()
	cy, err := newCycle(s.cache, pod, s.namespaceLabels)
	if err != nil {
		return "", "", err
	}
	var feasible []*nodeInfo
	var names []string
	reasons := map[string]int{}
	all := 0
	for name, ni := range s.cache.nodes {
		if ni.node == nil {
			continue
		}
		all++
		if why := cy.filter(ni); len(why) > 0 {
			for _, r := range why {
				reasons[r]++
			}
			continue
		}
		feasible = append(feasible, ni)
		names = append(names, name)
	}
	if len(feasible) == 0 {
		return "", fitError(all, reasons), nil
	}
	scores := cy.score(feasible)
	best, ties := 0, 1
	for i := 1; i < len(scores); i++ {
		switch {
		case scores[i] > scores[best]:
			best, ties = i, 1
		case scores[i] == scores[best]:
			ties++
			if rand.IntN(ties) == 0 {
				best = i
			}
		}
	}
	return names[best], "", nil
}

// fitError words a scheduling failure as kube-scheduler does:
// "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) ... ."
func fitError(all int, reasons map[string]int) string {
	if all == 0 {
		return "no nodes available to schedule pods"
	}
	var parts []string
	for r, n := range reasons {
		parts = append(parts, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(parts)
	return fmt.Sprintf("0/%d nodes are available: %s.", all, strings.Join(parts, ", "))
}

func (s *Scheduler) namespaceLabels(name string) labels.Set {
	ns := &corev1.Namespace{}
	if err := s.reader.Get(context.Background(), types.NamespacedName{Name: name}, ns); err != nil {
		return nil
	}
	return ns.Labels
}

// setUnschedulable records PodScheduled=False/Unschedulable with the
// reason, unless the pod already says so.
func (s *Scheduler) setUnschedulable(ctx context.Context, pod *corev1.Pod, msg string) error {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable && c.Message == msg {
			return nil
		}
	}
	cond := map[string]any{
		"type": corev1.PodScheduled, "status": corev1.ConditionFalse, "reason": corev1.PodReasonUnschedulable,
		"message": msg, "lastProbeTime": nil, "lastTransitionTime": metav1.NewTime(s.clock.Now()),
	}
	// Guarded by the resourceVersion the decision was made on: a pod bound
	// meanwhile (by another scheduler, or by hand) keeps PodScheduled=True.
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"resourceVersion": pod.ResourceVersion},
		"status": map[string]any{"conditions": []any{cond}}})
	if err != nil {
		return err
	}
	_, err = s.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if apierrors.IsConflict(err) {
		return nil // it changed; it is queued again if still pending
	}
	return err
}

func (s *Scheduler) bind(ctx context.Context, pod *corev1.Pod, node string) {
	b := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}
	err := s.client.CoreV1().Pods(pod.Namespace).Bind(ctx, b, metav1.CreateOptions{})
	if err != nil {
		s.cache.forget(pod.UID)
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) || ctx.Err() != nil {
			return
		}
		klog.FromContext(ctx).Error(err, "binding pod", "pod", klog.KObj(pod), "node", node)
		s.queue.AddRateLimited(key(pod))
		return
	}
	s.recorder.Eventf(pod, nil, corev1.EventTypeNormal, "Scheduled", "Binding", "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node)
}
