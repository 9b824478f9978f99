package replicaset

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/skiffhq/skiff/controllers/conflict"
	"github.com/skiffhq/skiff/controllers/eventfilter"
	"github.com/skiffhq/skiff/controllers/expectations"
	"github.com/skiffhq/skiff/controllers/podcontrol"
)

// burstReplicas caps the pods created or deleted in one sync, as upstream.
const burstReplicas = 500

var gvk = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

type reconciler struct {
	client   client.Client
	clock    clock.PassiveClock
	recorder events.EventRecorder
	exp      *expectations.Expectations
	pods     *podcontrol.Index
}

// Setup registers the controller with the manager.
func Setup(mgr ctrl.Manager, clk clock.PassiveClock) error {
	pods, err := podcontrol.NewIndex(context.Background(), mgr.GetCache())
	if err != nil {
		return err
	}
	r := &reconciler{client: mgr.GetClient(), clock: clk, recorder: eventfilter.New(mgr.GetEventRecorder("replicaset-controller"), clk), exp: expectations.New(clk), pods: pods}
	return ctrl.NewControllerManagedBy(mgr).Named("replicaset").
		For(&appsv1.ReplicaSet{}).
		Watches(&corev1.Pod{}, &expectations.Handler{Owner: gvk, Exp: r.exp, Orphans: r.orphanOwners, Relevant: podcontrol.CountsChanged}).
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Complete(conflict.Retry(r))
}

func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	key := req.String()
	rs := &appsv1.ReplicaSet{}
	if err := r.client.Get(ctx, req.NamespacedName, rs); apierrors.IsNotFound(err) {
		r.exp.Forget(key)
		return ctrl.Result{}, nil
	} else if err != nil {
		return ctrl.Result{}, err
	}
	selector, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		return ctrl.Result{}, nil // validation prevents this; nothing to do
	}
	// Read the expectations before the cache, so that what the cache
	// shows is at least as new as what they promise.
	satisfied := r.exp.Satisfied(key)
	// Pods it owns (to release, should they no longer match) and orphans
	// the selector matches (to adopt), read from the cache without
	// copies: nothing below modifies them.
	pods, err := podcontrol.Claim(ctx, r.client, rs, gvk, selector, r.pods.Candidates(rs, selector))
	if err != nil {
		return ctrl.Result{}, err
	}
	var active []*corev1.Pod
	for _, p := range pods {
		if podcontrol.IsActive(p) {
			active = append(active, p)
		}
	}
	var manageErr error
	if satisfied && rs.DeletionTimestamp == nil {
		manageErr = r.manage(ctx, rs, active)
	}
	requeue, err := r.updateStatus(ctx, rs, pods, active, manageErr)
	if err != nil {
		return ctrl.Result{}, err
	}
	if manageErr != nil {
		return ctrl.Result{}, manageErr
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}

// manage creates or deletes pods to reach spec.replicas.
func (r *reconciler) manage(ctx context.Context, rs *appsv1.ReplicaSet, active []*corev1.Pod) error {
	key := types.NamespacedName{Namespace: rs.Namespace, Name: rs.Name}.String()
	want := int32(1)
	if rs.Spec.Replicas != nil {
		want = *rs.Spec.Replicas
	}
	diff := len(active) - int(want)
	switch {
	case diff < 0:
		n := min(-diff, burstReplicas)
		r.exp.ExpectCreations(key, n)
		ref := podcontrol.ControllerRef(rs, gvk)
		attempted, _, err := podcontrol.SlowStart(n, func() error {
			pod := podcontrol.FromTemplate(&rs.Spec.Template, rs.Namespace, rs.Name+"-", ref)
			if err := r.client.Create(ctx, pod); err != nil {
				r.exp.CreationObserved(key)
				if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
					return nil // the namespace is going away; nothing to report
				}
				r.recorder.Eventf(rs, nil, corev1.EventTypeWarning, "FailedCreate", "Create", "Error creating: %v", err)
				return err
			}
			r.recorder.Eventf(rs, pod, corev1.EventTypeNormal, "SuccessfulCreate", "Create", "Created pod: %s", pod.Name)
			return nil
		})
		// Creates never sent will never be observed.
		for range n - attempted {
			r.exp.CreationObserved(key)
		}
		return err
	case diff > 0:
		n := min(diff, burstReplicas)
		podcontrol.SortForDeletion(active)
		victims := active[:n]
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for _, p := range victims {
			r.exp.ExpectDeletion(key, p.UID)
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := r.client.Delete(ctx, p, client.Preconditions{UID: &p.UID})
				if err != nil {
					r.exp.DeletionObserved(key, p.UID)
					if !apierrors.IsNotFound(err) {
						r.recorder.Eventf(rs, p, corev1.EventTypeWarning, "FailedDelete", "Delete", "Error deleting: %v", err)
						errs <- err
					}
					return
				}
				r.recorder.Eventf(rs, p, corev1.EventTypeNormal, "SuccessfulDelete", "Delete", "Deleted pod: %s", p.Name)
			}()
		}
		wg.Wait()
		close(errs)
		return <-errs
	}
	return nil
}

// updateStatus writes the counts and the ReplicaFailure condition; it
// returns when to look again for pods about to become available.
func (r *reconciler) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet, pods, active []*corev1.Pod, manageErr error) (time.Duration, error) {
	now := r.clock.Now()
	templateLabels := labels.Set(rs.Spec.Template.Labels).AsSelectorPreValidated()
	st := appsv1.ReplicaSetStatus{Replicas: int32(len(active)), ObservedGeneration: rs.Generation}
	var requeue time.Duration
	for _, p := range active {
		if templateLabels.Matches(labels.Set(p.Labels)) {
			st.FullyLabeledReplicas++
		}
		if podcontrol.IsReady(p) {
			st.ReadyReplicas++
		}
		ok, wait := podcontrol.Available(p, rs.Spec.MinReadySeconds, now)
		if ok {
			st.AvailableReplicas++
		} else if wait > 0 && (requeue == 0 || wait < requeue) {
			requeue = wait
		}
	}
	var terminating int32
	for _, p := range pods {
		if podcontrol.IsTerminating(p) {
			terminating++
		}
	}
	st.TerminatingReplicas = &terminating
	st.Conditions = rs.Status.Conditions
	if manageErr != nil {
		reason := "FailedCreate"
		if len(active) > int(ptrOr(rs.Spec.Replicas, 1)) {
			reason = "FailedDelete"
		}
		st.Conditions = setCondition(st.Conditions, appsv1.ReplicaSetCondition{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
			Reason: reason, Message: manageErr.Error(), LastTransitionTime: metav1.NewTime(now)})
	} else {
		st.Conditions = removeCondition(st.Conditions, appsv1.ReplicaSetReplicaFailure)
	}
	if apiequality.Semantic.DeepEqual(rs.Status, st) {
		return requeue, nil
	}
	updated := rs.DeepCopy()
	updated.Status = st
	if err := r.client.Status().Update(ctx, updated); err != nil {
		return 0, fmt.Errorf("updating status: %w", err) // a conflict is retried by conflict.Retry
	}
	return requeue, nil
}

func ptrOr(p *int32, d int32) int32 {
	if p == nil {
		return d
	}
	return *p
}

func setCondition(conds []appsv1.ReplicaSetCondition, c appsv1.ReplicaSetCondition) []appsv1.ReplicaSetCondition {
	for i := range conds {
		if conds[i].Type == c.Type {
			if conds[i].Status == c.Status && conds[i].Reason == c.Reason && conds[i].Message == c.Message {
				return conds
			}
			out := append([]appsv1.ReplicaSetCondition(nil), conds...)
			if conds[i].Status == c.Status {
				c.LastTransitionTime = conds[i].LastTransitionTime
			}
			out[i] = c
			return out
		}
	}
	return append(append([]appsv1.ReplicaSetCondition(nil), conds...), c)
}

func removeCondition(conds []appsv1.ReplicaSetCondition, t appsv1.ReplicaSetConditionType) []appsv1.ReplicaSetCondition {
	var out []appsv1.ReplicaSetCondition
	for _, c := range conds {
		if c.Type != t {
			out = append(out, c)
		}
	}
	return out
}

// orphanOwners finds the ReplicaSets whose selector matches an orphan pod.
func (r *reconciler) orphanOwners(ctx context.Context, p client.Object) []reconcile.Request {
	var list appsv1.ReplicaSetList
	if err := r.client.List(ctx, &list, client.InNamespace(p.GetNamespace())); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, rs := range list.Items {
		sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(p.GetLabels())) {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: rs.Namespace, Name: rs.Name}})
		}
	}
	return out
}
