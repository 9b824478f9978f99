package deployment

import (
	"context"
	"fmt"
	"math"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/skiffhq/skiff/controllers/conflict"
	"github.com/skiffhq/skiff/controllers/eventfilter"
	"github.com/skiffhq/skiff/controllers/expectations"
	"github.com/skiffhq/skiff/controllers/podcontrol"
)

var (
	deploymentGVK = appsv1.SchemeGroupVersion.WithKind("Deployment")
	rsGVK         = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
)

type reconciler struct {
	client   client.Client
	clock    clock.PassiveClock
	recorder events.EventRecorder
	pods     *podcontrol.Index
}

// Setup registers the controller with the manager.
func Setup(mgr ctrl.Manager, clk clock.PassiveClock) error {
	pods, err := podcontrol.NewIndex(context.Background(), mgr.GetCache())
	if err != nil {
		return err
	}
	r := &reconciler{client: mgr.GetClient(), clock: clk, recorder: eventfilter.New(mgr.GetEventRecorder("deployment-controller"), clk), pods: pods}
	return ctrl.NewControllerManagedBy(mgr).Named("deployment").
		For(&appsv1.Deployment{}).
		Watches(&appsv1.ReplicaSet{}, &expectations.Handler{Owner: deploymentGVK, Orphans: r.orphanOwners}).
		// Recreate waits for the old pods to be gone.
		Watches(&corev1.Pod{}, handler.Funcs{DeleteFunc: r.podDeleted}).
		Complete(conflict.Retry(r))
}

// state is what one sync works with.
type state struct {
	d      *appsv1.Deployment
	newRS  *appsv1.ReplicaSet
	oldRSs []*appsv1.ReplicaSet
	pods   map[types.UID][]*corev1.Pod // by owning ReplicaSet
}

func (s *state) all() []*appsv1.ReplicaSet {
	if s.newRS == nil {
		return s.oldRSs
	}
	return append(append([]*appsv1.ReplicaSet{}, s.oldRSs...), s.newRS)
}

func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	d := &appsv1.Deployment{}
	if err := r.client.Get(ctx, req.NamespacedName, d); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || selector.Empty() {
		return ctrl.Result{}, nil // validation forbids both
	}
	var rsList appsv1.ReplicaSetList
	if err := r.client.List(ctx, &rsList, client.InNamespace(d.Namespace)); err != nil {
		return ctrl.Result{}, err
	}
	rss, err := podcontrol.Claim(ctx, r.client, d, deploymentGVK, selector, podcontrol.Pointers(rsList.Items))
	if err != nil {
		return ctrl.Result{}, err
	}
	if d.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	s := &state{d: d}
	if err := r.checkPaused(ctx, d); err != nil {
		return ctrl.Result{}, err
	}
	if d.Spec.Paused || r.isScalingEvent(d, rss) {
		return r.sync(ctx, s, rss)
	}
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		s.pods = r.podsByRS(rss)
		return r.rolloutRecreate(ctx, s, rss)
	}
	return r.rolloutRolling(ctx, s, rss)
}

// checkPaused records pausing and resuming in the Progressing condition.
func (r *reconciler) checkPaused(ctx context.Context, d *appsv1.Deployment) error {
	if d.Spec.ProgressDeadlineSeconds == nil || *d.Spec.ProgressDeadlineSeconds == math.MaxInt32 {
		return nil
	}
	cond := getCondition(d.Status, appsv1.DeploymentProgressing)
	pausedCond := cond != nil && cond.Reason == reasonPaused
	var next *appsv1.DeploymentCondition
	switch {
	case d.Spec.Paused && !pausedCond:
		next = r.condition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, reasonPaused, "Deployment is paused")
	case !d.Spec.Paused && pausedCond:
		next = r.condition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, reasonResumed, "Deployment is resumed")
	default:
		return nil
	}
	setCondition(&d.Status, *next)
	return r.client.Status().Update(ctx, d)
}

// isScalingEvent: spec.replicas changed since the active ReplicaSets
// were annotated, which calls for proportional scaling, not a rollout.
func (r *reconciler) isScalingEvent(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) bool {
	newRS, old := r.split(d, rss)
	for _, rs := range append(old, newRS) {
		if rs == nil || replicas(rs.Spec.Replicas) == 0 {
			continue
		}
		if v, ok := rs.Annotations[DesiredReplicasAnnotation]; ok && v != strconv.Itoa(int(replicas(d.Spec.Replicas))) {
			return true
		}
	}
	return false
}

// split finds the ReplicaSet of the current template (the oldest, should
// there be several) and the others.
func (r *reconciler) split(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet) {
	sorted := append([]*appsv1.ReplicaSet{}, rss...)
	byCreation(sorted)
	var newRS *appsv1.ReplicaSet
	var old []*appsv1.ReplicaSet
	for _, rs := range sorted {
		if newRS == nil && sameTemplate(&rs.Spec.Template, &d.Spec.Template) {
			newRS = rs
			continue
		}
		old = append(old, rs)
	}
	return newRS, old
}

// podsByRS returns the pods of each ReplicaSet, the cache's own (read
// only).
func (r *reconciler) podsByRS(rss []*appsv1.ReplicaSet) map[types.UID][]*corev1.Pod {
	out := make(map[types.UID][]*corev1.Pod, len(rss))
	for _, rs := range rss {
		out[rs.UID] = r.pods.Owned(rs.UID)
	}
	return out
}

// resolve sets s.newRS and s.oldRSs, bringing the new ReplicaSet's
// revision and annotations up to date and creating it if asked.
func (r *reconciler) resolve(ctx context.Context, s *state, rss []*appsv1.ReplicaSet, create bool) error {
	d := s.d
	s.newRS, s.oldRSs = r.split(d, rss)
	var maxOld int64
	for _, rs := range s.oldRSs {
		maxOld = max(maxOld, revision(rs))
	}
	next := maxOld + 1
	if rs := s.newRS; rs != nil {
		updated := rs.DeepCopy()
		if updated.Annotations == nil {
			updated.Annotations = map[string]string{}
		}
		changed := copyAnnotations(d.Annotations, updated.Annotations)
		if cur := revision(rs); cur < next {
			updated.Annotations[RevisionAnnotation] = strconv.FormatInt(next, 10)
			if cur > 0 {
				updated.Annotations[RevisionHistoryAnnotation] = appendHistory(rs.Annotations[RevisionHistoryAnnotation], cur)
			}
			changed = true
		}
		if r.setReplicaAnnotations(d, updated) {
			changed = true
		}
		if updated.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
			updated.Spec.MinReadySeconds = d.Spec.MinReadySeconds
			changed = true
		}
		if changed {
			if err := r.client.Update(ctx, updated); err != nil {
				return err
			}
			s.newRS = updated
		}
		if getCondition(d.Status, appsv1.DeploymentProgressing) == nil {
			setCondition(&d.Status, *r.condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonFoundNewRS, fmt.Sprintf("Found new replica set %q", rs.Name)))
			if err := r.client.Status().Update(ctx, d); err != nil {
				return err
			}
		}
		return r.syncRevision(ctx, d, s.newRS.Annotations[RevisionAnnotation])
	}
	if !create {
		return nil
	}
	rs, err := r.createNewRS(ctx, s, next)
	if err != nil {
		return err
	}
	s.newRS = rs
	return r.syncRevision(ctx, d, rs.Annotations[RevisionAnnotation])
}

// syncRevision mirrors the new ReplicaSet's revision on the Deployment.
func (r *reconciler) syncRevision(ctx context.Context, d *appsv1.Deployment, rev string) error {
	if rev == "" || d.Annotations[RevisionAnnotation] == rev {
		return nil
	}
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	d.Annotations[RevisionAnnotation] = rev
	return r.client.Update(ctx, d)
}

func (r *reconciler) setReplicaAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	surge, _ := resolveFenceposts(d)
	want := map[string]string{
		DesiredReplicasAnnotation: strconv.Itoa(int(replicas(d.Spec.Replicas))),
		MaxReplicasAnnotation:     strconv.Itoa(int(replicas(d.Spec.Replicas) + surge)),
	}
	changed := false
	for k, v := range want {
		if rs.Annotations[k] != v {
			rs.Annotations[k] = v
			changed = true
		}
	}
	return changed
}

func (r *reconciler) createNewRS(ctx context.Context, s *state, rev int64) (*appsv1.ReplicaSet, error) {
	d := s.d
	hash := templateHash(&d.Spec.Template, d.Status.CollisionCount)
	template := d.Spec.Template.DeepCopy()
	if template.Labels == nil {
		template.Labels = map[string]string{}
	}
	template.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	selector := d.Spec.Selector.DeepCopy()
	if selector.MatchLabels == nil {
		selector.MatchLabels = map[string]string{}
	}
	selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	count := r.newRSReplicas(d, s.all(), nil)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: d.Name + "-" + hash, Namespace: d.Namespace, Labels: template.Labels,
			Annotations:     map[string]string{RevisionAnnotation: strconv.FormatInt(rev, 10)},
			OwnerReferences: []metav1.OwnerReference{podcontrol.ControllerRef(d, deploymentGVK)},
		},
		Spec: appsv1.ReplicaSetSpec{Replicas: &count, MinReadySeconds: d.Spec.MinReadySeconds, Selector: selector, Template: *template},
	}
	copyAnnotations(d.Annotations, rs.Annotations)
	r.setReplicaAnnotations(d, rs)
	err := r.client.Create(ctx, rs)
	if apierrors.IsAlreadyExists(err) {
		existing := &appsv1.ReplicaSet{}
		if gerr := r.client.Get(ctx, client.ObjectKeyFromObject(rs), existing); gerr != nil {
			return nil, gerr
		}
		if metav1.IsControlledBy(existing, d) && sameTemplate(&existing.Spec.Template, &d.Spec.Template) {
			return existing, nil // our cache had not seen it yet
		}
		// A different object has this name: change the hash.
		n := int32(0)
		if d.Status.CollisionCount != nil {
			n = *d.Status.CollisionCount
		}
		d.Status.CollisionCount = new(n + 1)
		if uerr := r.client.Status().Update(ctx, d); uerr != nil {
			return nil, uerr
		}
		return nil, fmt.Errorf("replica set name %s is taken; retrying with collision count %d", rs.Name, n+1)
	}
	if err != nil {
		setCondition(&d.Status, *r.condition(appsv1.DeploymentReplicaFailure, corev1.ConditionTrue, "FailedCreate", err.Error()))
		_ = r.client.Status().Update(ctx, d)
		return nil, err
	}
	if count > 0 {
		r.recorder.Eventf(d, rs, corev1.EventTypeNormal, "ScalingReplicaSet", "Scale", "Scaled up replica set %s from 0 to %d", rs.Name, count)
	}
	setCondition(&d.Status, *r.condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonNewRSCreated, fmt.Sprintf("Created new replica set %q", rs.Name)))
	if err := r.client.Status().Update(ctx, d); err != nil {
		return nil, err
	}
	return rs, nil
}

// newRSReplicas is the size the new ReplicaSet may grow to now.
func (r *reconciler) newRSReplicas(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) int32 {
	want := replicas(d.Spec.Replicas)
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		return want
	}
	surge, _ := resolveFenceposts(d)
	current := specReplicas(all)
	var newCount int32
	if newRS != nil {
		newCount = replicas(newRS.Spec.Replicas)
	}
	maxTotal := want + surge
	if current >= maxTotal {
		return newCount
	}
	return newCount + min(maxTotal-current, max(want-newCount, 0))
}

// scale sets a ReplicaSet's size (and its replica annotations).
func (r *reconciler) scale(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet, to int32) (bool, error) {
	from := replicas(rs.Spec.Replicas)
	updated := rs.DeepCopy()
	if updated.Annotations == nil {
		updated.Annotations = map[string]string{}
	}
	annotationsChanged := r.setReplicaAnnotations(d, updated)
	if from == to && !annotationsChanged {
		return false, nil
	}
	updated.Spec.Replicas = &to
	if err := r.client.Update(ctx, updated); err != nil {
		return false, err
	}
	*rs = *updated
	if from != to {
		direction := "up"
		if to < from {
			direction = "down"
		}
		r.recorder.Eventf(d, rs, corev1.EventTypeNormal, "ScalingReplicaSet", "Scale", "Scaled %s replica set %s from %d to %d", direction, rs.Name, from, to)
	}
	return from != to, nil
}

// orphanOwners finds the Deployments whose selector matches an orphan
// ReplicaSet.
func (r *reconciler) orphanOwners(ctx context.Context, o client.Object) []reconcile.Request {
	var list appsv1.DeploymentList
	if err := r.client.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, d := range list.Items {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(o.GetLabels())) {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: d.Namespace, Name: d.Name}})
		}
	}
	return out
}

// podDeleted wakes a Recreate Deployment whose old pods are going.
func (r *reconciler) podDeleted(ctx context.Context, e event.TypedDeleteEvent[client.Object], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	ref := metav1.GetControllerOf(e.Object)
	if ref == nil || ref.Kind != rsGVK.Kind {
		return
	}
	rs := &appsv1.ReplicaSet{}
	if err := r.client.Get(ctx, types.NamespacedName{Namespace: e.Object.GetNamespace(), Name: ref.Name}, rs); err != nil {
		return
	}
	if dref := metav1.GetControllerOf(rs); dref != nil && dref.Kind == deploymentGVK.Kind {
		q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: rs.Namespace, Name: dref.Name}})
	}
}

func (r *reconciler) condition(t appsv1.DeploymentConditionType, st corev1.ConditionStatus, reason, msg string) *appsv1.DeploymentCondition {
	now := metav1.NewTime(r.clock.Now())
	return &appsv1.DeploymentCondition{Type: t, Status: st, Reason: reason, Message: msg, LastUpdateTime: now, LastTransitionTime: now}
}

func getCondition(s appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			return &s.Conditions[i]
		}
	}
	return nil
}

// setCondition replaces a condition, keeping its transition time when the
// status does not change (and its update time when nothing does).
func setCondition(s *appsv1.DeploymentStatus, c appsv1.DeploymentCondition) {
	if cur := getCondition(*s, c.Type); cur != nil {
		if cur.Status == c.Status && cur.Reason == c.Reason && cur.Message == c.Message {
			return
		}
		if cur.Status == c.Status {
			c.LastTransitionTime = cur.LastTransitionTime
		}
		*cur = c
		return
	}
	s.Conditions = append(s.Conditions, c)
}

func removeCondition(s *appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) {
	var out []appsv1.DeploymentCondition
	for _, c := range s.Conditions {
		if c.Type != t {
			out = append(out, c)
		}
	}
	s.Conditions = out
}
