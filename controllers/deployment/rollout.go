package deployment

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// rolloutRolling moves pods from the old ReplicaSets to the new one
// within maxSurge and maxUnavailable.
func (r *reconciler) rolloutRolling(ctx context.Context, s *state, rss []*appsv1.ReplicaSet) (ctrl.Result, error) {
	if err := r.resolve(ctx, s, rss, true); err != nil {
		return ctrl.Result{}, err
	}
	d := s.d
	want := replicas(d.Spec.Replicas)
	// Grow the new ReplicaSet as far as the surge allows.
	if cur := replicas(s.newRS.Spec.Replicas); cur != want {
		to := min(r.newRSReplicas(d, s.all(), s.newRS), want)
		if cur > want {
			to = want
		}
		if scaled, err := r.scale(ctx, d, s.newRS, to); err != nil || scaled {
			return r.syncStatus(ctx, s, err)
		}
	}
	// Shrink the old ones as far as availability allows.
	if scaled, err := r.scaleDownOld(ctx, s); err != nil || scaled {
		return r.syncStatus(ctx, s, err)
	}
	if complete(d, r.calculateStatus(s)) {
		if err := r.cleanup(ctx, s); err != nil {
			return ctrl.Result{}, err
		}
	}
	return r.syncStatus(ctx, s, nil)
}

// scaleDownOld removes unhealthy pods of old ReplicaSets first, then
// available ones, never going below spec.replicas - maxUnavailable
// available pods.
func (r *reconciler) scaleDownOld(ctx context.Context, s *state) (bool, error) {
	d := s.d
	if specReplicas(s.oldRSs) == 0 {
		return false, nil
	}
	_, unavailable := resolveFenceposts(d)
	minAvailable := replicas(d.Spec.Replicas) - unavailable
	newUnavailable := replicas(s.newRS.Spec.Replicas) - s.newRS.Status.AvailableReplicas
	maxScaledDown := specReplicas(s.all()) - minAvailable - newUnavailable
	if maxScaledDown <= 0 {
		return false, nil
	}
	old := append([]*appsv1.ReplicaSet{}, s.oldRSs...)
	byCreation(old)
	scaled := false
	var total int32
	for _, rs := range old {
		if total >= maxScaledDown {
			break
		}
		unhealthy := replicas(rs.Spec.Replicas) - rs.Status.AvailableReplicas
		if replicas(rs.Spec.Replicas) == 0 || unhealthy <= 0 {
			continue
		}
		n := min(maxScaledDown-total, unhealthy)
		if _, err := r.scale(ctx, d, rs, replicas(rs.Spec.Replicas)-n); err != nil {
			return false, err
		}
		total += n
		scaled = true
	}
	var available int32
	for _, rs := range s.all() {
		available += rs.Status.AvailableReplicas
	}
	if available <= minAvailable {
		return scaled, nil
	}
	budget := available - minAvailable
	total = 0
	for _, rs := range old {
		if total >= budget {
			break
		}
		if replicas(rs.Spec.Replicas) == 0 {
			continue
		}
		n := min(replicas(rs.Spec.Replicas), budget-total)
		if _, err := r.scale(ctx, d, rs, replicas(rs.Spec.Replicas)-n); err != nil {
			return false, err
		}
		total += n
		scaled = true
	}
	return scaled, nil
}

// rolloutRecreate stops every old pod before the new ReplicaSet starts.
func (r *reconciler) rolloutRecreate(ctx context.Context, s *state, rss []*appsv1.ReplicaSet) (ctrl.Result, error) {
	if err := r.resolve(ctx, s, rss, false); err != nil {
		return ctrl.Result{}, err
	}
	d := s.d
	scaled := false
	for _, rs := range s.oldRSs {
		ok, err := r.scale(ctx, d, rs, 0)
		if err != nil {
			return r.syncStatus(ctx, s, err)
		}
		scaled = scaled || ok
	}
	if scaled {
		return r.syncStatus(ctx, s, nil)
	}
	for _, rs := range s.oldRSs {
		for _, p := range s.pods[rs.UID] {
			if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
				return r.syncStatus(ctx, s, nil) // old pods still running or terminating
			}
		}
	}
	if s.newRS == nil {
		if err := r.resolve(ctx, s, rss, true); err != nil {
			return ctrl.Result{}, err
		}
	}
	if _, err := r.scale(ctx, d, s.newRS, replicas(d.Spec.Replicas)); err != nil {
		return r.syncStatus(ctx, s, err)
	}
	if complete(d, r.calculateStatus(s)) {
		if err := r.cleanup(ctx, s); err != nil {
			return ctrl.Result{}, err
		}
	}
	return r.syncStatus(ctx, s, nil)
}

// sync handles a paused Deployment or a change of spec.replicas: the
// active ReplicaSets are resized in proportion, nothing is rolled out.
func (r *reconciler) sync(ctx context.Context, s *state, rss []*appsv1.ReplicaSet) (ctrl.Result, error) {
	if err := r.resolve(ctx, s, rss, false); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.scaleProportionally(ctx, s); err != nil {
		return r.syncStatus(ctx, s, err)
	}
	if s.d.Spec.Paused && complete(s.d, r.calculateStatus(s)) {
		if err := r.cleanup(ctx, s); err != nil {
			return ctrl.Result{}, err
		}
	}
	return r.syncStatus(ctx, s, nil)
}

func (r *reconciler) scaleProportionally(ctx context.Context, s *state) error {
	d := s.d
	want := replicas(d.Spec.Replicas)
	var active []*appsv1.ReplicaSet
	for _, rs := range s.all() {
		if replicas(rs.Spec.Replicas) > 0 {
			active = append(active, rs)
		}
	}
	switch {
	case len(active) == 0:
		if s.newRS != nil {
			_, err := r.scale(ctx, d, s.newRS, want)
			return err
		}
		return nil
	case len(active) == 1:
		_, err := r.scale(ctx, d, active[0], want)
		return err
	}
	if s.newRS != nil && replicas(s.newRS.Spec.Replicas) == want && s.newRS.Status.AvailableReplicas == want {
		for _, rs := range s.oldRSs {
			if _, err := r.scale(ctx, d, rs, 0); err != nil {
				return err
			}
		}
		return nil
	}
	// Several active ReplicaSets: share the change by their sizes, the
	// larger ones first, as upstream does.
	surge, _ := resolveFenceposts(d)
	allowed := want + surge
	current := specReplicas(active)
	delta := allowed - current
	if delta == 0 {
		return nil
	}
	sort.SliceStable(active, func(i, j int) bool {
		if delta > 0 {
			return replicas(active[i].Spec.Replicas) > replicas(active[j].Spec.Replicas)
		}
		return replicas(active[i].Spec.Replicas) < replicas(active[j].Spec.Replicas)
	})
	targets := make([]int32, len(active))
	var given int32
	for i, rs := range active {
		share := int32(math.Round(float64(replicas(rs.Spec.Replicas)) * float64(delta) / float64(current)))
		if abs(given+share) > abs(delta) {
			share = delta - given
		}
		targets[i] = replicas(rs.Spec.Replicas) + share
		given += share
	}
	targets[0] += delta - given
	for i, rs := range active {
		if _, err := r.scale(ctx, d, rs, max(targets[i], 0)); err != nil {
			return err
		}
	}
	return nil
}

func abs(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}

// cleanup deletes scaled-down old ReplicaSets beyond revisionHistoryLimit,
// oldest revisions first.
func (r *reconciler) cleanup(ctx context.Context, s *state) error {
	limit := int32(10)
	if s.d.Spec.RevisionHistoryLimit != nil {
		limit = *s.d.Spec.RevisionHistoryLimit
	}
	var idle []*appsv1.ReplicaSet
	for _, rs := range s.oldRSs {
		if replicas(rs.Spec.Replicas) == 0 && rs.Status.Replicas == 0 && rs.DeletionTimestamp == nil {
			idle = append(idle, rs)
		}
	}
	if int32(len(idle)) <= limit {
		return nil
	}
	sort.SliceStable(idle, func(i, j int) bool { return revision(idle[i]) < revision(idle[j]) })
	for _, rs := range idle[:int32(len(idle))-limit] {
		uid := rs.UID
		if err := r.client.Delete(ctx, rs, client.Preconditions{UID: &uid}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// calculateStatus sums the ReplicaSets' status into the Deployment's.
func (r *reconciler) calculateStatus(s *state) appsv1.DeploymentStatus {
	d := s.d
	st := appsv1.DeploymentStatus{ObservedGeneration: d.Generation, CollisionCount: d.Status.CollisionCount,
		Conditions: append([]appsv1.DeploymentCondition(nil), d.Status.Conditions...)}
	var terminating int32
	for _, rs := range s.all() {
		st.Replicas += rs.Status.Replicas
		st.ReadyReplicas += rs.Status.ReadyReplicas
		st.AvailableReplicas += rs.Status.AvailableReplicas
		if rs.Status.TerminatingReplicas != nil {
			terminating += *rs.Status.TerminatingReplicas
		}
	}
	st.TerminatingReplicas = &terminating
	if s.newRS != nil {
		st.UpdatedReplicas = s.newRS.Status.Replicas
	}
	want := replicas(d.Spec.Replicas)
	st.UnavailableReplicas = max(want-st.AvailableReplicas, 0)
	_, unavailable := resolveFenceposts(d)
	if st.AvailableReplicas >= want-unavailable {
		setCondition(&st, *r.condition(appsv1.DeploymentAvailable, corev1.ConditionTrue, reasonMinAvailable, "Deployment has minimum availability."))
	} else {
		setCondition(&st, *r.condition(appsv1.DeploymentAvailable, corev1.ConditionFalse, reasonMinUnavailable, "Deployment does not have minimum availability."))
	}
	// A ReplicaSet that cannot create its pods says why.
	var failure *appsv1.ReplicaSetCondition
	for _, rs := range s.all() {
		for i := range rs.Status.Conditions {
			if c := &rs.Status.Conditions[i]; c.Type == appsv1.ReplicaSetReplicaFailure && c.Status == corev1.ConditionTrue {
				failure = c
			}
		}
	}
	if failure != nil {
		setCondition(&st, *r.condition(appsv1.DeploymentReplicaFailure, corev1.ConditionTrue, failure.Reason, failure.Message))
	} else {
		removeCondition(&st, appsv1.DeploymentReplicaFailure)
	}
	return st
}

// complete: every replica is updated and available, and nothing old runs.
func complete(d *appsv1.Deployment, st appsv1.DeploymentStatus) bool {
	want := replicas(d.Spec.Replicas)
	return st.UpdatedReplicas == want && st.Replicas == want && st.AvailableReplicas == want && st.ObservedGeneration >= d.Generation
}

// syncStatus writes the status with the Progressing condition, and asks
// to look again when the progress deadline would pass.
func (r *reconciler) syncStatus(ctx context.Context, s *state, syncErr error) (ctrl.Result, error) {
	d := s.d
	st := r.calculateStatus(s)
	var requeue time.Duration
	hasDeadline := d.Spec.ProgressDeadlineSeconds != nil && *d.Spec.ProgressDeadlineSeconds != math.MaxInt32
	if !hasDeadline {
		removeCondition(&st, appsv1.DeploymentProgressing)
	} else if !d.Spec.Paused && s.newRS != nil {
		cur := getCondition(d.Status, appsv1.DeploymentProgressing)
		now := r.clock.Now()
		deadline := time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second
		switch {
		case complete(d, st):
			setCondition(&st, *r.condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonNewRSAvailable, fmt.Sprintf("ReplicaSet %q has successfully progressed.", s.newRS.Name)))
		case progressed(d.Status, st):
			c := r.condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonRSUpdated, fmt.Sprintf("ReplicaSet %q is progressing.", s.newRS.Name))
			if cur != nil && cur.Status == corev1.ConditionTrue {
				c.LastTransitionTime = cur.LastTransitionTime
			}
			removeCondition(&st, appsv1.DeploymentProgressing)
			st.Conditions = append(st.Conditions, *c)
			requeue = deadline
		case cur != nil && cur.Reason != reasonNewRSAvailable && cur.Reason != reasonTimedOut:
			if due := cur.LastUpdateTime.Add(deadline); !now.Before(due) {
				setCondition(&st, *r.condition(appsv1.DeploymentProgressing, corev1.ConditionFalse, reasonTimedOut, fmt.Sprintf("ReplicaSet %q has timed out progressing.", s.newRS.Name)))
			} else {
				requeue = due.Sub(now) + time.Millisecond
			}
		}
	}
	if !apiequality.Semantic.DeepEqual(d.Status, st) {
		updated := d.DeepCopy()
		updated.Status = st
		if err := r.client.Status().Update(ctx, updated); err != nil {
			return ctrl.Result{}, err
		}
	}
	if syncErr != nil {
		return ctrl.Result{}, syncErr
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}

// progressed: the rollout moved since the last status (more updated,
// ready or available replicas, or fewer old ones).
func progressed(old, cur appsv1.DeploymentStatus) bool {
	return cur.UpdatedReplicas != old.UpdatedReplicas || cur.ReadyReplicas > old.ReadyReplicas ||
		cur.AvailableReplicas > old.AvailableReplicas || cur.Replicas-cur.UpdatedReplicas < old.Replicas-old.UpdatedReplicas
}
