package disruption

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/skiffhq/skiff/controllers/conflict"
	"github.com/skiffhq/skiff/controllers/podcontrol"
)

// Name is the controller's name, as --controllers knows it.
const Name = "disruption"

// DeletionTimeout is how long an eviction recorded in a budget's
// status.disruptedPods waits for its pod to be marked for deletion before
// the controller forgets it, as upstream's.
const DeletionTimeout = 2 * time.Minute

type reconciler struct {
	client client.Client
	clock  clock.PassiveClock
}

// Setup registers the controller with the manager.
func Setup(mgr ctrl.Manager, clk clock.PassiveClock) error {
	r := &reconciler{client: mgr.GetClient(), clock: clk}
	// Pods, and the controllers whose scale a percentage needs, wake the
	// budgets of their namespace.
	budgetsOf := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		var list policyv1.PodDisruptionBudgetList
		if err := r.client.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
			return nil
		}
		var out []reconcile.Request
		for i := range list.Items {
			pdb := &list.Items[i]
			if _, isPod := o.(*corev1.Pod); isPod {
				sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
				if err != nil || !sel.Matches(labels.Set(o.GetLabels())) {
					continue
				}
			}
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: pdb.Namespace, Name: pdb.Name}})
		}
		return out
	})
	return ctrl.NewControllerManagedBy(mgr).Named(Name).
		For(&policyv1.PodDisruptionBudget{}).
		Watches(&corev1.Pod{}, budgetsOf).
		Watches(&appsv1.ReplicaSet{}, budgetsOf).
		Watches(&appsv1.Deployment{}, budgetsOf).
		Watches(&appsv1.StatefulSet{}, budgetsOf).
		Complete(conflict.Retry(r))
}

func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	pdb := &policyv1.PodDisruptionBudget{}
	if err := r.client.Get(ctx, req.NamespacedName, pdb); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	now := r.clock.Now()
	st := pdb.Status.DeepCopy()
	st.ObservedGeneration = pdb.Generation
	pods, err := r.podsOf(ctx, pdb)
	var expected, desired int32
	if err == nil {
		expected, desired, err = r.expectedAndDesired(ctx, pdb, pods)
	}
	if err != nil {
		// As upstream: a budget that cannot be worked out allows nothing.
		st.DisruptionsAllowed = 0
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionFalse,
			Reason: policyv1.SyncFailedReason, Message: err.Error(), ObservedGeneration: pdb.Generation})
		return ctrl.Result{}, r.writeStatus(ctx, pdb, st)
	}
	disrupted, recheck := disruptedPods(pdb, pods, now)
	current := healthy(pods, disrupted)
	st.ExpectedPods, st.DesiredHealthy, st.CurrentHealthy = expected, desired, current
	st.DisruptedPods = disrupted
	st.DisruptionsAllowed = max(0, current-desired)
	cond := metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionTrue, Reason: policyv1.SufficientPodsReason, ObservedGeneration: pdb.Generation}
	if st.DisruptionsAllowed == 0 {
		cond.Status, cond.Reason = metav1.ConditionFalse, policyv1.InsufficientPodsReason
	}
	meta.SetStatusCondition(&st.Conditions, cond)
	if err := r.writeStatus(ctx, pdb, st); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: recheck}, nil
}

// podsOf lists the pods the budget's selector matches in its namespace
// (none for a nil selector, all for an empty one, as policy/v1).
func (r *reconciler) podsOf(ctx context.Context, pdb *policyv1.PodDisruptionBudget) ([]*corev1.Pod, error) {
	if pdb.Spec.Selector == nil {
		return nil, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("invalid selector: %w", err)
	}
	var list corev1.PodList
	if err := r.client.List(ctx, &list, client.InNamespace(pdb.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, err
	}
	out := make([]*corev1.Pod, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	return out, nil
}

// expectedAndDesired works out how many pods the budget expects and how
// many must stay healthy: an absolute minAvailable counts the matching
// pods; a percentage, or maxUnavailable, counts the replicas their
// controllers want.
func (r *reconciler) expectedAndDesired(ctx context.Context, pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod) (int32, int32, error) {
	switch {
	case pdb.Spec.MaxUnavailable != nil:
		expected, err := r.expectedScale(ctx, pdb, pods)
		if err != nil {
			return 0, 0, err
		}
		unavailable, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, int(expected), true)
		if err != nil {
			return 0, 0, err
		}
		return expected, max(0, expected-int32(unavailable)), nil
	case pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.Type == intstr.Int:
		return int32(len(pods)), pdb.Spec.MinAvailable.IntVal, nil
	case pdb.Spec.MinAvailable != nil:
		expected, err := r.expectedScale(ctx, pdb, pods)
		if err != nil {
			return 0, 0, err
		}
		available, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, int(expected), true)
		if err != nil {
			return 0, 0, err
		}
		return expected, int32(available), nil
	}
	return int32(len(pods)), 0, nil
}

// expectedScale adds up the replicas wanted by the controllers of the
// pods (a ReplicaSet's Deployment when it has one), each counted once.
func (r *reconciler) expectedScale(ctx context.Context, pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod) (int32, error) {
	seen := map[types.UID]bool{}
	var total int32
	for _, p := range pods {
		ref := metav1.GetControllerOf(p)
		if ref == nil {
			return 0, fmt.Errorf("found no controller ref for pod %q", p.Name)
		}
		uid, replicas, err := r.scaleOf(ctx, pdb.Namespace, ref)
		if err != nil {
			return 0, err
		}
		if !seen[uid] {
			seen[uid] = true
			total += replicas
		}
	}
	return total, nil
}

// scaleOf finds the replicas a pod's controller wants, and whose they are.
func (r *reconciler) scaleOf(ctx context.Context, ns string, ref *metav1.OwnerReference) (types.UID, int32, error) {
	key := client.ObjectKey{Namespace: ns, Name: ref.Name}
	replicas := func(n *int32) int32 {
		if n == nil {
			return 1
		}
		return *n
	}
	switch {
	case ref.Kind == "ReplicaSet" && ref.APIVersion == "apps/v1":
		rs := &appsv1.ReplicaSet{}
		if err := r.client.Get(ctx, key, rs); err != nil || rs.UID != ref.UID {
			return "", 0, missing(ref, err)
		}
		if d := metav1.GetControllerOf(rs); d != nil && d.Kind == "Deployment" && d.APIVersion == "apps/v1" {
			dep := &appsv1.Deployment{}
			if err := r.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: d.Name}, dep); err != nil || dep.UID != d.UID {
				return "", 0, missing(d, err)
			}
			return dep.UID, replicas(dep.Spec.Replicas), nil
		}
		return rs.UID, replicas(rs.Spec.Replicas), nil
	case ref.Kind == "StatefulSet" && ref.APIVersion == "apps/v1":
		ss := &appsv1.StatefulSet{}
		if err := r.client.Get(ctx, key, ss); err != nil || ss.UID != ref.UID {
			return "", 0, missing(ref, err)
		}
		return ss.UID, replicas(ss.Spec.Replicas), nil
	}
	return "", 0, fmt.Errorf("the scale of %s %s is not known (percentages and maxUnavailable need pods of a ReplicaSet, Deployment or StatefulSet)", ref.Kind, ref.Name)
}

func missing(ref *metav1.OwnerReference, err error) error {
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return fmt.Errorf("%s %s of the pods is not found", ref.Kind, ref.Name)
}

// disruptedPods keeps the evictions of status.disruptedPods whose pods
// are still there, not yet marked for deletion, and evicted less than
// DeletionTimeout ago; it returns when the oldest kept one expires.
func disruptedPods(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod, now time.Time) (map[string]metav1.Time, time.Duration) {
	if len(pdb.Status.DisruptedPods) == 0 {
		return nil, 0
	}
	byName := map[string]*corev1.Pod{}
	for _, p := range pods {
		byName[p.Name] = p
	}
	out := map[string]metav1.Time{}
	var recheck time.Duration
	for name, at := range pdb.Status.DisruptedPods {
		p, ok := byName[name]
		if !ok || p.DeletionTimestamp != nil {
			continue
		}
		expires := at.Add(DeletionTimeout)
		if !now.Before(expires) {
			continue
		}
		out[name] = at
		if d := expires.Sub(now); recheck == 0 || d < recheck {
			recheck = d
		}
	}
	if len(out) == 0 {
		return nil, 0
	}
	return out, recheck
}

// healthy counts the ready pods not being deleted nor recently evicted.
func healthy(pods []*corev1.Pod, disrupted map[string]metav1.Time) int32 {
	var n int32
	for _, p := range pods {
		if p.DeletionTimestamp != nil || !podcontrol.IsReady(p) {
			continue
		}
		if _, evicted := disrupted[p.Name]; evicted {
			continue
		}
		n++
	}
	return n
}

func (r *reconciler) writeStatus(ctx context.Context, pdb *policyv1.PodDisruptionBudget, st *policyv1.PodDisruptionBudgetStatus) error {
	if apiequality.Semantic.DeepEqual(pdb.Status, *st) {
		return nil
	}
	updated := pdb.DeepCopy()
	updated.Status = *st
	if err := r.client.Status().Update(ctx, updated); err != nil {
		return fmt.Errorf("updating the status of %s: %w", pdb.Name, err)
	}
	return nil
}
