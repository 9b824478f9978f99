package statefulset

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/skiffhq/skiff/controllers/conflict"
	"github.com/skiffhq/skiff/controllers/eventfilter"
	"github.com/skiffhq/skiff/controllers/expectations"
	"github.com/skiffhq/skiff/controllers/history"
	"github.com/skiffhq/skiff/controllers/podcontrol"
)

var gvk = appsv1.SchemeGroupVersion.WithKind("StatefulSet")

// Labels a StatefulSet puts on its pods.
const (
	podNameLabel  = appsv1.StatefulSetPodNameLabel
	podIndexLabel = appsv1.PodIndexLabel
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
	r := &reconciler{client: mgr.GetClient(), clock: clk, recorder: eventfilter.New(mgr.GetEventRecorder("statefulset-controller"), clk), pods: pods}
	return ctrl.NewControllerManagedBy(mgr).Named("statefulset").
		For(&appsv1.StatefulSet{}).
		Watches(&corev1.Pod{}, &expectations.Handler{Owner: gvk}).
		Complete(conflict.Retry(r))
}

// ordinalOf parses the ordinal of a pod named <set>-<n>.
func ordinalOf(set *appsv1.StatefulSet, p *corev1.Pod) (int, bool) {
	rest, ok := strings.CutPrefix(p.Name, set.Name+"-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil && n >= 0 && strconv.Itoa(n) == rest
}

func startOrdinal(set *appsv1.StatefulSet) int {
	if set.Spec.Ordinals != nil {
		return int(set.Spec.Ordinals.Start)
	}
	return 0
}

func replicas(set *appsv1.StatefulSet) int {
	if set.Spec.Replicas == nil {
		return 1
	}
	return int(*set.Spec.Replicas)
}

func healthy(set *appsv1.StatefulSet, p *corev1.Pod, now time.Time) bool {
	if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
		return false
	}
	ok, _ := podcontrol.Available(p, set.Spec.MinReadySeconds, now)
	return ok
}

// templateOf reads the template a revision stores.
func templateOf(rev *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	var data struct {
		Spec struct {
			Template corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(rev.Data.Raw, &data); err != nil {
		return nil, fmt.Errorf("reading revision %s: %w", rev.Name, err)
	}
	return &data.Spec.Template, nil
}

func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	set := &appsv1.StatefulSet{}
	if err := r.client.Get(ctx, req.NamespacedName, set); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	selector, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil {
		return ctrl.Result{}, nil
	}
	pods, err := podcontrol.Claim(ctx, r.client, set, gvk, selector, podcontrol.DeepCopies(r.pods.Candidates(set, selector)))
	if err != nil {
		return ctrl.Result{}, err
	}
	if set.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	revs, err := history.List(ctx, r.client, set)
	if err != nil {
		return ctrl.Result{}, err
	}
	update, collisions, err := history.Ensure(ctx, r.client, set, gvk, &set.Spec.Template, set.Spec.Template.Labels, set.Status.CollisionCount, revs)
	if !apiequality.Semantic.DeepEqual(collisions, set.Status.CollisionCount) {
		set.Status.CollisionCount = collisions
		if uerr := r.client.Status().Update(ctx, set); uerr != nil {
			return ctrl.Result{}, uerr
		}
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if revs, err = history.List(ctx, r.client, set); err != nil {
		return ctrl.Result{}, err
	}
	current := update
	for _, rv := range revs {
		if rv.Name == set.Status.CurrentRevision {
			current = rv
		}
	}
	if set.Status.CurrentRevision == "" {
		current = update
	}
	s := &sync{r: r, set: set, current: current, update: update, now: r.clock.Now()}
	if err := s.run(ctx, pods); err != nil {
		return ctrl.Result{}, err
	}
	inUse := map[string]bool{current.Name: true, update.Name: true}
	limit := int32(10)
	if set.Spec.RevisionHistoryLimit != nil {
		limit = *set.Spec.RevisionHistoryLimit
	}
	if err := history.Prune(ctx, r.client, revs, inUse, limit); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: s.requeue}, r.updateStatus(ctx, set, s)
}

// sync is one pass over a StatefulSet's pods.
type sync struct {
	r               *reconciler
	set             *appsv1.StatefulSet
	current, update *appsv1.ControllerRevision
	now             time.Time
	requeue         time.Duration
	pods            map[int]*corev1.Pod // live pods by ordinal, after this pass
}

func (s *sync) run(ctx context.Context, pods []*corev1.Pod) error {
	set := s.set
	first, n := startOrdinal(set), replicas(set)
	s.pods = map[int]*corev1.Pod{}
	var condemned []*corev1.Pod
	for _, p := range pods {
		i, ok := ordinalOf(set, p)
		if !ok || i < first || i >= first+n {
			condemned = append(condemned, p)
			continue
		}
		s.pods[i] = p
	}
	parallel := set.Spec.PodManagementPolicy == appsv1.ParallelPodManagement
	// Bring up the pods of the ordinals in range, in order.
	for i := first; i < first+n; i++ {
		p := s.pods[i]
		switch {
		case p == nil:
			if err := s.create(ctx, i); err != nil {
				return err
			}
			if !parallel {
				return nil
			}
			continue
		case p.Status.Phase == corev1.PodFailed && p.DeletionTimestamp == nil:
			if err := s.delete(ctx, p); err != nil {
				return err
			}
			if !parallel {
				return nil
			}
			continue
		}
		if !parallel && !healthy(set, p, s.now) {
			if _, wait := podcontrol.Available(p, set.Spec.MinReadySeconds, s.now); wait > 0 {
				s.requeue = wait
			}
			return nil // OrderedReady: wait for this one
		}
	}
	// Remove the condemned, highest ordinal first.
	sort.Slice(condemned, func(a, b int) bool {
		oa, _ := ordinalOf(set, condemned[a])
		ob, _ := ordinalOf(set, condemned[b])
		return oa > ob
	})
	for _, p := range condemned {
		if p.DeletionTimestamp != nil {
			if !parallel {
				return nil // wait for it to go
			}
			continue
		}
		if err := s.delete(ctx, p); err != nil {
			return err
		}
		if !parallel {
			return nil
		}
	}
	// Roll pods onto the update revision, highest ordinal first.
	if set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return nil
	}
	for i := first; i < first+n; i++ {
		if p := s.pods[i]; p == nil || !healthy(set, p, s.now) {
			return nil // update only a healthy set
		}
	}
	partition := 0
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		partition = int(*ru.Partition)
	}
	for i := first + n - 1; i >= first+partition; i-- {
		p := s.pods[i]
		if p.Labels[history.HashLabel] != s.update.Labels[history.HashLabel] {
			return s.delete(ctx, p)
		}
	}
	return nil
}

// create makes the pod of an ordinal (and its claims) from the revision
// its ordinal belongs to.
func (s *sync) create(ctx context.Context, ordinal int) error {
	set := s.set
	rev := s.update
	if ru := set.Spec.UpdateStrategy.RollingUpdate; set.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType &&
		ru != nil && ru.Partition != nil && ordinal-startOrdinal(set) < int(*ru.Partition) {
		rev = s.current
	}
	tmpl, err := templateOf(rev)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("%s-%d", set.Name, ordinal)
	pod := podcontrol.FromTemplate(tmpl, set.Namespace, "", podcontrol.ControllerRef(set, gvk))
	pod.Name = name
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[podNameLabel] = name
	pod.Labels[podIndexLabel] = strconv.Itoa(ordinal)
	pod.Labels[history.HashLabel] = rev.Labels[history.HashLabel]
	pod.Spec.Hostname = name
	pod.Spec.Subdomain = set.Spec.ServiceName
	for _, ct := range set.Spec.VolumeClaimTemplates {
		claim, err := s.ensureClaim(ctx, &ct, name)
		if err != nil {
			return err
		}
		vol := corev1.Volume{Name: ct.Name, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}
		replaced := false
		for i := range pod.Spec.Volumes {
			if pod.Spec.Volumes[i].Name == ct.Name {
				pod.Spec.Volumes[i], replaced = vol, true
			}
		}
		if !replaced {
			pod.Spec.Volumes = append(pod.Spec.Volumes, vol)
		}
	}
	if err := s.r.client.Create(ctx, pod); err != nil {
		if apierrors.IsAlreadyExists(err) || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
		s.r.recorder.Eventf(set, nil, corev1.EventTypeWarning, "FailedCreate", "Create", "create Pod %s in StatefulSet %s failed error: %v", name, set.Name, err)
		return err
	}
	s.r.recorder.Eventf(set, pod, corev1.EventTypeNormal, "SuccessfulCreate", "Create", "create Pod %s in StatefulSet %s successful", name, set.Name)
	s.pods[ordinal] = pod
	return nil
}

// ensureClaim creates the claim <template>-<pod> unless it exists.
func (s *sync) ensureClaim(ctx context.Context, ct *corev1.PersistentVolumeClaim, podName string) (string, error) {
	set := s.set
	name := ct.Name + "-" + podName
	existing := &corev1.PersistentVolumeClaim{}
	if err := s.r.client.Get(ctx, types.NamespacedName{Namespace: set.Namespace, Name: name}, existing); err == nil {
		return name, nil
	}
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: set.Namespace, Labels: map[string]string{}, Annotations: ct.Annotations},
		Spec:       *ct.Spec.DeepCopy(),
	}
	for k, v := range ct.Labels {
		claim.Labels[k] = v
	}
	for k, v := range set.Spec.Selector.MatchLabels {
		claim.Labels[k] = v
	}
	if p := set.Spec.PersistentVolumeClaimRetentionPolicy; p != nil && p.WhenDeleted == appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
		ref := podcontrol.ControllerRef(set, gvk)
		ref.Controller = nil
		claim.OwnerReferences = []metav1.OwnerReference{ref}
	}
	if err := s.r.client.Create(ctx, claim); err != nil && !apierrors.IsAlreadyExists(err) {
		s.r.recorder.Eventf(set, nil, corev1.EventTypeWarning, "FailedCreate", "Create", "create Claim %s for Pod %s in StatefulSet %s failed error: %v", name, podName, set.Name, err)
		return "", err
	}
	s.r.recorder.Eventf(set, nil, corev1.EventTypeNormal, "SuccessfulCreate", "Create", "create Claim %s Pod %s in StatefulSet %s success", name, podName, set.Name)
	return name, nil
}

func (s *sync) delete(ctx context.Context, p *corev1.Pod) error {
	uid := p.UID
	if err := s.r.client.Delete(ctx, p, client.Preconditions{UID: &uid}); err != nil && !apierrors.IsNotFound(err) {
		s.r.recorder.Eventf(s.set, p, corev1.EventTypeWarning, "FailedDelete", "Delete", "delete Pod %s in StatefulSet %s failed error: %v", p.Name, s.set.Name, err)
		return err
	}
	s.r.recorder.Eventf(s.set, p, corev1.EventTypeNormal, "SuccessfulDelete", "Delete", "delete Pod %s in StatefulSet %s successful", p.Name, s.set.Name)
	if i, ok := ordinalOf(s.set, p); ok {
		delete(s.pods, i)
	}
	return nil
}

// updateStatus writes the replica counts and revisions; once every pod
// runs the update revision, it becomes the current one.
func (r *reconciler) updateStatus(ctx context.Context, set *appsv1.StatefulSet, s *sync) error {
	st := appsv1.StatefulSetStatus{ObservedGeneration: set.Generation, CollisionCount: set.Status.CollisionCount,
		CurrentRevision: s.current.Name, UpdateRevision: s.update.Name, Conditions: set.Status.Conditions}
	curHash, updHash := s.current.Labels[history.HashLabel], s.update.Labels[history.HashLabel]
	for _, p := range s.pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		st.Replicas++
		if podcontrol.IsReady(p) && p.Status.Phase == corev1.PodRunning {
			st.ReadyReplicas++
			if ok, _ := podcontrol.Available(p, set.Spec.MinReadySeconds, s.now); ok {
				st.AvailableReplicas++
			}
		}
		switch p.Labels[history.HashLabel] {
		case curHash:
			st.CurrentReplicas++
		}
		if p.Labels[history.HashLabel] == updHash {
			st.UpdatedReplicas++
		}
	}
	if int(st.UpdatedReplicas) == replicas(set) && int(st.ReadyReplicas) == replicas(set) {
		st.CurrentRevision = st.UpdateRevision
		st.CurrentReplicas = st.UpdatedReplicas
	}
	if apiequality.Semantic.DeepEqual(set.Status, st) {
		return nil
	}
	updated := set.DeepCopy()
	updated.Status = st
	return r.client.Status().Update(ctx, updated)
}
