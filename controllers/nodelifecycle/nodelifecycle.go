package nodelifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/skiffhq/skiff/controllers/conflict"
	"github.com/skiffhq/skiff/controllers/eventfilter"
)

// NodeNameField indexes pods by spec.nodeName in the manager's cache.
const NodeNameField = "spec.nodeName"

// leaseNamespace holds node heartbeats.
const leaseNamespace = "kube-node-lease"

// DefaultOrphanQuarantine: a pod bound to a node that does not exist is
// removed only after this long (upstream's pod GC quarantine), in case the
// node is about to register.
const DefaultOrphanQuarantine = 40 * time.Second

type reconciler struct {
	client     client.Client
	grace      time.Duration
	quarantine time.Duration
	clock      clock.PassiveClock
	recorder   events.EventRecorder
}

// Setup registers the controller; the manager's cache must index pods
// by NodeNameField (IndexPodsByNode).
func Setup(mgr ctrl.Manager, grace, quarantine time.Duration, clk clock.PassiveClock) error {
	if quarantine <= 0 {
		quarantine = DefaultOrphanQuarantine
	}
	r := &reconciler{client: mgr.GetClient(), grace: grace, quarantine: quarantine, clock: clk, recorder: eventfilter.New(mgr.GetEventRecorder("node-controller"), clk)}
	return ctrl.NewControllerManagedBy(mgr).Named("nodelifecycle").
		For(&corev1.Node{}).
		Watches(&coordinationv1.Lease{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			if o.GetNamespace() != leaseNamespace {
				return nil
			}
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: o.GetName()}}}
		})).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.podToNode)).
		Complete(conflict.Retry(r))
}

// IndexPodsByNode adds the spec.nodeName index to the manager's pod
// cache; call it once per manager.
func IndexPodsByNode(mgr ctrl.Manager) error {
	return mgr.GetFieldIndexer().IndexField(context.Background(), &corev1.Pod{}, NodeNameField, func(o client.Object) []string {
		if n := o.(*corev1.Pod).Spec.NodeName; n != "" {
			return []string{n}
		}
		return nil
	})
}

// podToNode wakes a node's reconcile for a pod only when the node may
// have to act on it: it is missing, or it has NoExecute taints.
func (r *reconciler) podToNode(ctx context.Context, o client.Object) []reconcile.Request {
	name := o.(*corev1.Pod).Spec.NodeName
	if name == "" {
		return nil
	}
	node := &corev1.Node{}
	err := r.client.Get(ctx, types.NamespacedName{Name: name}, node)
	if err == nil && !slices.ContainsFunc(node.Spec.Taints, func(t corev1.Taint) bool { return t.Effect == corev1.TaintEffectNoExecute }) {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: name}}}
}

func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	node := &corev1.Node{}
	if err := r.client.Get(ctx, req.NamespacedName, node); apierrors.IsNotFound(err) {
		return r.collectOrphans(ctx, req.Name)
	} else if err != nil {
		return ctrl.Result{}, err
	}
	now := r.clock.Now()
	var requeue time.Duration
	last := r.lastHeartbeat(ctx, node)
	if expires := last.Add(r.grace); now.After(expires) {
		if err := r.markUnknown(ctx, node, now); err != nil {
			return ctrl.Result{}, err
		}
	} else {
		requeue = expires.Sub(now) + time.Millisecond
	}
	if err := r.syncTaints(ctx, node, now); err != nil {
		return ctrl.Result{}, err
	}
	if c := readyCondition(node); c != nil && c.Status != corev1.ConditionTrue {
		if err := r.markPodsNotReady(ctx, node, now); err != nil {
			return ctrl.Result{}, err
		}
	}
	after, err := r.evict(ctx, node, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	if after > 0 && (requeue == 0 || after < requeue) {
		requeue = after
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}

func readyCondition(n *corev1.Node) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

// lastHeartbeat is the later of the Lease's renewal and the Ready
// condition's heartbeat; a node that never reported counts from its
// creation.
func (r *reconciler) lastHeartbeat(ctx context.Context, node *corev1.Node) time.Time {
	last := node.CreationTimestamp.Time
	if c := readyCondition(node); c != nil && c.LastHeartbeatTime.After(last) {
		last = c.LastHeartbeatTime.Time
	}
	lease := &coordinationv1.Lease{}
	if err := r.client.Get(ctx, types.NamespacedName{Namespace: leaseNamespace, Name: node.Name}, lease); err == nil &&
		lease.Spec.RenewTime != nil && lease.Spec.RenewTime.After(last) {
		last = lease.Spec.RenewTime.Time
	}
	return last
}

// markUnknown sets the kubelet's conditions to Unknown, as upstream does
// when a node stops posting status.
func (r *reconciler) markUnknown(ctx context.Context, node *corev1.Node, now time.Time) error {
	if c := readyCondition(node); c != nil && c.Status == corev1.ConditionUnknown {
		return nil
	}
	updated := node.DeepCopy()
	kinds := []corev1.NodeConditionType{corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure}
	for _, t := range kinds {
		i := slices.IndexFunc(updated.Status.Conditions, func(c corev1.NodeCondition) bool { return c.Type == t })
		if i < 0 {
			updated.Status.Conditions = append(updated.Status.Conditions, corev1.NodeCondition{Type: t, LastHeartbeatTime: metav1.NewTime(node.CreationTimestamp.Time)})
			i = len(updated.Status.Conditions) - 1
		}
		c := &updated.Status.Conditions[i]
		if c.Status != corev1.ConditionUnknown {
			c.LastTransitionTime = metav1.NewTime(now)
		}
		c.Status, c.Reason, c.Message = corev1.ConditionUnknown, "NodeStatusUnknown", "Kubelet stopped posting node status."
	}
	if err := r.client.Status().Update(ctx, updated); err != nil {
		return fmt.Errorf("marking node unknown: %w", err)
	}
	klog.FromContext(ctx).Info("node stopped posting status", "node", node.Name)
	r.recorder.Eventf(node, nil, corev1.EventTypeNormal, "NodeNotReady", "NodeNotReady", "Node %s status is now: NodeNotReady", node.Name)
	*node = *updated
	return nil
}

var managedTaints = []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable, corev1.TaintNodeUnschedulable}

// syncTaints puts on the node the taints its Ready condition and
// spec.unschedulable call for, and takes off those no longer true.
func (r *reconciler) syncTaints(ctx context.Context, node *corev1.Node, now time.Time) error {
	var want []corev1.Taint
	add := func(key string, effect corev1.TaintEffect) {
		t := corev1.Taint{Key: key, Effect: effect}
		if effect == corev1.TaintEffectNoExecute {
			t.TimeAdded = new(metav1.NewTime(now))
			for _, old := range node.Spec.Taints {
				if old.MatchTaint(&t) {
					t.TimeAdded = old.TimeAdded
				}
			}
		}
		want = append(want, t)
	}
	switch c := readyCondition(node); {
	case c == nil || c.Status == corev1.ConditionFalse:
		add(corev1.TaintNodeNotReady, corev1.TaintEffectNoSchedule)
		if c != nil {
			add(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute)
		}
	case c.Status == corev1.ConditionUnknown:
		add(corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule)
		add(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)
	}
	if node.Spec.Unschedulable {
		add(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule)
	}
	var taints []corev1.Taint
	for _, t := range node.Spec.Taints {
		if !slices.Contains(managedTaints, t.Key) {
			taints = append(taints, t)
		}
	}
	taints = append(taints, want...)
	if taintsEqual(taints, node.Spec.Taints) {
		return nil
	}
	updated := node.DeepCopy()
	updated.Spec.Taints = taints
	if err := r.client.Update(ctx, updated); err != nil {
		return fmt.Errorf("updating taints: %w", err)
	}
	*node = *updated
	return nil
}

func taintsEqual(a, b []corev1.Taint) bool {
	if len(a) != len(b) {
		return false
	}
	for _, t := range a {
		if !slices.ContainsFunc(b, func(o corev1.Taint) bool { return o.MatchTaint(&t) }) {
			return false
		}
	}
	return true
}

// evict deletes the node's pods that do not tolerate its NoExecute
// taints, at once or when their tolerationSeconds run out; it returns
// when to look again.
func (r *reconciler) evict(ctx context.Context, node *corev1.Node, now time.Time) (time.Duration, error) {
	var noExec []corev1.Taint
	for _, t := range node.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			noExec = append(noExec, t)
		}
	}
	if len(noExec) == 0 {
		return 0, nil
	}
	var pods corev1.PodList
	if err := r.client.List(ctx, &pods, client.MatchingFields{NodeNameField: node.Name}); err != nil {
		return 0, err
	}
	var next time.Duration
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		due, evict := evictionTime(pod, noExec)
		if !evict {
			continue
		}
		if wait := due.Sub(now); wait > 0 {
			if next == 0 || wait < next {
				next = wait
			}
			continue
		}
		if err := r.evictPod(ctx, pod, now); err != nil {
			return 0, err
		}
	}
	return next, nil
}

// markPodsNotReady turns the Ready condition of the pods on a node that
// is not Ready to False, as upstream does, so that Services stop sending
// them traffic and workloads count them unavailable. The node's agent
// sets it again once it reports.
func (r *reconciler) markPodsNotReady(ctx context.Context, node *corev1.Node, now time.Time) error {
	var pods corev1.PodList
	if err := r.client.List(ctx, &pods, client.MatchingFields{NodeNameField: node.Name}); err != nil {
		return err
	}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		for _, c := range pod.Status.Conditions {
			if c.Type != corev1.PodReady || c.Status != corev1.ConditionTrue {
				continue
			}
			cond := map[string]any{"type": corev1.PodReady, "status": corev1.ConditionFalse, "lastTransitionTime": metav1.NewTime(now)}
			patch, _ := json.Marshal(map[string]any{"status": map[string]any{"conditions": []any{cond}}})
			if err := r.client.Status().Patch(ctx, pod, client.RawPatch(types.StrategicMergePatchType, patch)); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("marking pod %s not ready: %w", pod.Name, err)
			}
		}
	}
	return nil
}

// evictionTime: when the pod must go because of the taints (the earliest
// taint time plus the shortest matching tolerationSeconds), or false if
// it tolerates them all for ever.
func evictionTime(pod *corev1.Pod, taints []corev1.Taint) (time.Time, bool) {
	var due time.Time
	evict := false
	for _, t := range taints {
		added := time.Time{}
		if t.TimeAdded != nil {
			added = t.TimeAdded.Time
		}
		tolerated, forever := false, false
		var seconds int64 = -1
		for _, tol := range pod.Spec.Tolerations {
			if !tol.ToleratesTaint(klog.Background(), &t, false) {
				continue
			}
			tolerated = true
			if tol.TolerationSeconds == nil {
				forever = true
				break
			}
			if seconds < 0 || *tol.TolerationSeconds < seconds {
				seconds = max(*tol.TolerationSeconds, 0)
			}
		}
		switch {
		case !tolerated:
			return time.Time{}, true
		case forever:
			continue
		}
		at := added.Add(time.Duration(seconds) * time.Second)
		if !evict || at.Before(due) {
			due, evict = at, true
		}
	}
	return due, evict
}

func (r *reconciler) evictPod(ctx context.Context, pod *corev1.Pod, now time.Time) error {
	cond := map[string]any{"type": corev1.DisruptionTarget, "status": corev1.ConditionTrue, "reason": "DeletionByTaintManager",
		"message": "Taint manager: deleting due to NoExecute taint", "lastTransitionTime": metav1.NewTime(now)}
	patch, _ := json.Marshal(map[string]any{"status": map[string]any{"conditions": []any{cond}}})
	if err := r.client.Status().Patch(ctx, pod, client.RawPatch(types.StrategicMergePatchType, patch)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("marking pod for eviction: %w", err)
	}
	r.recorder.Eventf(pod, nil, corev1.EventTypeNormal, "TaintManagerEviction", "Delete", "Marking for deletion Pod %s/%s", pod.Namespace, pod.Name)
	if err := r.client.Delete(ctx, pod); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("evicting pod: %w", err)
	}
	return nil
}

// collectOrphans force-deletes pods bound to a node that does not exist.
func (r *reconciler) collectOrphans(ctx context.Context, nodeName string) (ctrl.Result, error) {
	var pods corev1.PodList
	if err := r.client.List(ctx, &pods, client.MatchingFields{NodeNameField: nodeName}); err != nil {
		return ctrl.Result{}, err
	}
	now := r.clock.Now()
	var requeue time.Duration
	for i := range pods.Items {
		pod := &pods.Items[i]
		if wait := pod.CreationTimestamp.Add(r.quarantine).Sub(now); wait > 0 {
			if requeue == 0 || wait < requeue {
				requeue = wait
			}
			continue
		}
		if err := r.client.Delete(ctx, pod, client.GracePeriodSeconds(0)); err != nil && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("deleting orphaned pod: %w", err)
		}
		klog.FromContext(ctx).Info("deleted pod bound to a missing node", "pod", klog.KObj(pod), "node", nodeName)
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}
