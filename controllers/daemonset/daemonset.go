package daemonset

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/events"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/skiffhq/skiff/controllers/conflict"
	"github.com/skiffhq/skiff/controllers/eventfilter"
	"github.com/skiffhq/skiff/controllers/expectations"
	"github.com/skiffhq/skiff/controllers/history"
	"github.com/skiffhq/skiff/controllers/podcontrol"
)

var gvk = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

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
	r := &reconciler{client: mgr.GetClient(), clock: clk, recorder: eventfilter.New(mgr.GetEventRecorder("daemonset-controller"), clk), exp: expectations.New(clk), pods: pods}
	return ctrl.NewControllerManagedBy(mgr).Named("daemonset").
		For(&appsv1.DaemonSet{}).
		Watches(&corev1.Pod{}, &expectations.Handler{Owner: gvk, Exp: r.exp}).
		Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(r.allDaemonSets)).
		Complete(conflict.Retry(r))
}

func (r *reconciler) allDaemonSets(ctx context.Context, _ client.Object) []reconcile.Request {
	var list appsv1.DaemonSetList
	if err := r.client.List(ctx, &list); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, ds := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ds.Namespace, Name: ds.Name}})
	}
	return out
}

// daemonTolerations are added to every daemon pod, as upstream does.
func daemonTolerations(hostNetwork bool) []corev1.Toleration {
	t := []corev1.Toleration{
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeDiskPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodePIDPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	}
	if hostNetwork {
		t = append(t, corev1.Toleration{Key: corev1.TaintNodeNetworkUnavailable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
	}
	return t
}

// podSpecFor is the pod a DaemonSet runs on a node: its template with the
// daemon tolerations and a required affinity to that node's name.
func podSpecFor(ds *appsv1.DaemonSet, node string) corev1.PodSpec {
	spec := *ds.Spec.Template.Spec.DeepCopy()
	for _, t := range daemonTolerations(spec.HostNetwork) {
		found := false
		for _, have := range spec.Tolerations {
			if have.Key == t.Key && have.Effect == t.Effect && have.Operator == t.Operator && have.TolerationSeconds == nil {
				found = true
			}
		}
		if !found {
			spec.Tolerations = append(spec.Tolerations, t)
		}
	}
	if node == "" {
		return spec
	}
	nameTerm := []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}}
	if spec.Affinity == nil {
		spec.Affinity = &corev1.Affinity{}
	}
	if spec.Affinity.NodeAffinity == nil {
		spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	req := spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	if req == nil || len(req.NodeSelectorTerms) == 0 {
		spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: nameTerm}}}
		return spec
	}
	for i := range req.NodeSelectorTerms {
		req.NodeSelectorTerms[i].MatchFields = nameTerm
	}
	return spec
}

// shouldRun says whether a daemon pod belongs on the node, and whether one
// already there may stay (only NoExecute taints evict it).
func shouldRun(ds *appsv1.DaemonSet, node *corev1.Node) (run, stay bool) {
	spec := podSpecFor(ds, "")
	pod := &corev1.Pod{Spec: spec}
	if ok, _ := nodeaffinity.GetRequiredNodeAffinity(pod).Match(node); !ok {
		return false, false
	}
	logger := klog.Background()
	_, untolerated := corev1helpers.FindMatchingUntoleratedTaint(logger, node.Spec.Taints, spec.Tolerations, func(t *corev1.Taint) bool {
		return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
	}, false)
	_, evicted := corev1helpers.FindMatchingUntoleratedTaint(logger, node.Spec.Taints, spec.Tolerations, func(t *corev1.Taint) bool {
		return t.Effect == corev1.TaintEffectNoExecute
	}, false)
	return !untolerated, !evicted
}

func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	key := req.String()
	ds := &appsv1.DaemonSet{}
	if err := r.client.Get(ctx, req.NamespacedName, ds); apierrors.IsNotFound(err) {
		r.exp.Forget(key)
		return ctrl.Result{}, nil
	} else if err != nil {
		return ctrl.Result{}, err
	}
	selector, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		return ctrl.Result{}, nil
	}
	satisfied := r.exp.Satisfied(key)
	pods, err := podcontrol.Claim(ctx, r.client, ds, gvk, selector, podcontrol.DeepCopies(r.pods.Candidates(ds, selector)))
	if err != nil {
		return ctrl.Result{}, err
	}
	if ds.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	revs, err := history.List(ctx, r.client, ds)
	if err != nil {
		return ctrl.Result{}, err
	}
	cur, collisions, err := history.Ensure(ctx, r.client, ds, gvk, &ds.Spec.Template, ds.Spec.Template.Labels, ds.Status.CollisionCount, revs)
	if !apiequality.Semantic.DeepEqual(collisions, ds.Status.CollisionCount) {
		ds.Status.CollisionCount = collisions
		if uerr := r.client.Status().Update(ctx, ds); uerr != nil {
			return ctrl.Result{}, uerr
		}
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	hash := cur.Labels[history.HashLabel]

	var nodes corev1.NodeList
	if err := r.client.List(ctx, &nodes); err != nil {
		return ctrl.Result{}, err
	}
	byNode := map[string][]*corev1.Pod{}
	for _, p := range pods {
		byNode[nodeOf(p)] = append(byNode[nodeOf(p)], p)
	}
	now := r.clock.Now()
	var create []string
	var remove []*corev1.Pod
	var requeue time.Duration
	desired := map[string]bool{}
	for i := range nodes.Items {
		node := &nodes.Items[i]
		run, stay := shouldRun(ds, node)
		var live []*corev1.Pod
		for _, p := range byNode[node.Name] {
			switch {
			case p.DeletionTimestamp != nil:
			case p.Status.Phase == corev1.PodFailed:
				// Failed daemon pods are replaced.
				r.recorder.Eventf(ds, p, corev1.EventTypeWarning, "FailedDaemonPod", "Delete", "Found failed daemon pod %s/%s on node %s, will try to kill it", p.Namespace, p.Name, node.Name)
				remove = append(remove, p)
			default:
				live = append(live, p)
			}
		}
		switch {
		case run:
			desired[node.Name] = true
			if len(live) == 0 && !hasTerminating(byNode[node.Name]) {
				create = append(create, node.Name)
			}
			if len(live) > 1 && !surging(ds, live, hash) {
				// Keep the oldest; the rest are duplicates.
				sort.Slice(live, func(a, b int) bool { return live[a].CreationTimestamp.Before(&live[b].CreationTimestamp) })
				remove = append(remove, live[1:]...)
			}
		case !stay:
			// Not selected any more, or a NoExecute taint it does not
			// tolerate; a new NoSchedule taint lets it stay.
			remove = append(remove, live...)
		}
	}
	// Pods bound to nodes that are gone (or never bound) do not count.
	for name, ps := range byNode {
		if name == "" {
			continue
		}
		found := false
		for i := range nodes.Items {
			if nodes.Items[i].Name == name {
				found = true
			}
		}
		if !found {
			for _, p := range ps {
				if p.DeletionTimestamp == nil {
					remove = append(remove, p)
				}
			}
		}
	}
	if satisfied {
		if wait, err := r.rollingUpdate(ctx, ds, byNode, desired, hash, &create, &remove, now); err != nil {
			return ctrl.Result{}, err
		} else if wait > 0 {
			requeue = wait
		}
		if err := r.apply(ctx, ds, key, create, remove, hash); err != nil {
			return ctrl.Result{}, err
		}
	}
	inUse := map[string]bool{cur.Name: true}
	for _, p := range pods {
		for _, rv := range revs {
			if rv.Labels[history.HashLabel] == p.Labels[history.HashLabel] {
				inUse[rv.Name] = true
			}
		}
	}
	limit := int32(10)
	if ds.Spec.RevisionHistoryLimit != nil {
		limit = *ds.Spec.RevisionHistoryLimit
	}
	if err := history.Prune(ctx, r.client, revs, inUse, limit); err != nil {
		return ctrl.Result{}, err
	}
	wait, err := r.updateStatus(ctx, ds, byNode, desired, hash, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	if wait > 0 && (requeue == 0 || wait < requeue) {
		requeue = wait
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}

func nodeOf(p *corev1.Pod) string {
	if p.Spec.NodeName != "" {
		return p.Spec.NodeName
	}
	// Not bound yet: the node it is meant for.
	if a := p.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			for _, f := range t.MatchFields {
				if f.Key == "metadata.name" && len(f.Values) == 1 {
					return f.Values[0]
				}
			}
		}
	}
	return ""
}

func hasTerminating(pods []*corev1.Pod) bool {
	for _, p := range pods {
		if podcontrol.IsTerminating(p) {
			return true
		}
	}
	return false
}

// surging: an old and a new pod side by side during a maxSurge rollout.
func surging(ds *appsv1.DaemonSet, live []*corev1.Pod, hash string) bool {
	if len(live) != 2 || maxSurge(ds, 1) == 0 {
		return false
	}
	return (live[0].Labels[history.HashLabel] == hash) != (live[1].Labels[history.HashLabel] == hash)
}

func rolling(ds *appsv1.DaemonSet) bool {
	return ds.Spec.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType || ds.Spec.UpdateStrategy.Type == ""
}

func maxSurge(ds *appsv1.DaemonSet, desired int) int {
	if !rolling(ds) || ds.Spec.UpdateStrategy.RollingUpdate == nil || ds.Spec.UpdateStrategy.RollingUpdate.MaxSurge == nil {
		return 0
	}
	n, _ := intstr.GetScaledValueFromIntOrPercent(ds.Spec.UpdateStrategy.RollingUpdate.MaxSurge, desired, true)
	return n
}

func maxUnavailable(ds *appsv1.DaemonSet, desired int) int {
	v := intstr.FromInt32(1)
	if ds.Spec.UpdateStrategy.RollingUpdate != nil && ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable != nil {
		v = *ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable
	}
	n, _ := intstr.GetScaledValueFromIntOrPercent(&v, desired, false)
	if n == 0 && maxSurge(ds, desired) == 0 {
		n = 1
	}
	return n
}

// rollingUpdate replaces pods of old revisions: with maxSurge, a new pod
// first and the old one once the new is available; otherwise the old pod
// goes first, never more than maxUnavailable nodes at a time.
func (r *reconciler) rollingUpdate(ctx context.Context, ds *appsv1.DaemonSet, byNode map[string][]*corev1.Pod, desired map[string]bool, hash string,
	create *[]string, remove *[]*corev1.Pod, now time.Time) (time.Duration, error) {
	if !rolling(ds) {
		return 0, nil
	}
	n := len(desired)
	surge, unavailBudget := maxSurge(ds, n), maxUnavailable(ds, n)
	unavailable := 0
	var wait time.Duration
	type nodeState struct {
		old, cur *corev1.Pod
	}
	states := map[string]nodeState{}
	names := make([]string, 0, len(desired))
	for name := range desired {
		names = append(names, name)
		var st nodeState
		for _, p := range byNode[name] {
			if !podcontrol.IsActive(p) {
				continue
			}
			if p.Labels[history.HashLabel] == hash {
				st.cur = p
			} else if st.old == nil {
				st.old = p
			}
		}
		states[name] = st
		avail := false
		switch {
		case st.cur != nil:
			avail, _ = podcontrol.Available(st.cur, ds.Spec.MinReadySeconds, now)
		case st.old != nil:
			avail, _ = podcontrol.Available(st.old, ds.Spec.MinReadySeconds, now)
		}
		if !avail {
			unavailable++
		}
	}
	sort.Strings(names)
	surged := 0
	for _, name := range names {
		st := states[name]
		if st.old == nil {
			continue
		}
		oldAvail, w := podcontrol.Available(st.old, ds.Spec.MinReadySeconds, now)
		if w > 0 && (wait == 0 || w < wait) {
			wait = w
		}
		if surge > 0 {
			switch {
			case st.cur == nil && surged < surge:
				*create = append(*create, name)
				surged++
			case st.cur != nil:
				if ok, w := podcontrol.Available(st.cur, ds.Spec.MinReadySeconds, now); ok {
					*remove = append(*remove, st.old)
				} else if w > 0 && (wait == 0 || w < wait) {
					wait = w
				}
			}
			continue
		}
		switch {
		case !oldAvail:
			*remove = append(*remove, st.old) // already unavailable: replace at once
		case unavailable < unavailBudget:
			*remove = append(*remove, st.old)
			unavailable++
		}
	}
	return wait, nil
}

// apply sends the creates and deletes.
func (r *reconciler) apply(ctx context.Context, ds *appsv1.DaemonSet, key string, create []string, remove []*corev1.Pod, hash string) error {
	seen := map[types.UID]bool{}
	var first error
	for _, p := range remove {
		if seen[p.UID] || p.DeletionTimestamp != nil {
			continue
		}
		seen[p.UID] = true
		r.exp.ExpectDeletion(key, p.UID)
		uid := p.UID
		if err := r.client.Delete(ctx, p, client.Preconditions{UID: &uid}); err != nil {
			r.exp.DeletionObserved(key, p.UID)
			if !apierrors.IsNotFound(err) && first == nil {
				first = err
			}
			continue
		}
		r.recorder.Eventf(ds, p, corev1.EventTypeNormal, "SuccessfulDelete", "Delete", "Deleted pod: %s", p.Name)
	}
	if len(create) == 0 {
		return first
	}
	ref := podcontrol.ControllerRef(ds, gvk)
	r.exp.ExpectCreations(key, len(create))
	for _, node := range create {
		pod := podcontrol.FromTemplate(&ds.Spec.Template, ds.Namespace, ds.Name+"-", ref)
		pod.Spec = podSpecFor(ds, node)
		if pod.Labels == nil {
			pod.Labels = map[string]string{}
		}
		pod.Labels[history.HashLabel] = hash
		pod.Labels["pod-template-generation"] = strconv.FormatInt(ds.Generation, 10)
		if err := r.client.Create(ctx, pod); err != nil {
			r.exp.CreationObserved(key)
			if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				r.recorder.Eventf(ds, nil, corev1.EventTypeWarning, "FailedCreate", "Create", "Error creating: %v", err)
				if first == nil {
					first = fmt.Errorf("creating a daemon pod for node %s: %w", node, err)
				}
			}
			continue
		}
		r.recorder.Eventf(ds, pod, corev1.EventTypeNormal, "SuccessfulCreate", "Create", "Created pod: %s", pod.Name)
	}
	return first
}

func (r *reconciler) updateStatus(ctx context.Context, ds *appsv1.DaemonSet, byNode map[string][]*corev1.Pod, desired map[string]bool, hash string, now time.Time) (time.Duration, error) {
	st := appsv1.DaemonSetStatus{ObservedGeneration: ds.Generation, CollisionCount: ds.Status.CollisionCount, Conditions: ds.Status.Conditions}
	var wait time.Duration
	for name, pods := range byNode {
		var active []*corev1.Pod
		for _, p := range pods {
			if podcontrol.IsActive(p) {
				active = append(active, p)
			}
		}
		if len(active) == 0 {
			continue
		}
		if !desired[name] {
			st.NumberMisscheduled++
			continue
		}
		st.CurrentNumberScheduled++
		var pick *corev1.Pod
		for _, p := range active {
			if p.Labels[history.HashLabel] == hash {
				pick = p
			}
		}
		if pick != nil {
			st.UpdatedNumberScheduled++
		} else {
			pick = active[0]
		}
		if podcontrol.IsReady(pick) {
			st.NumberReady++
		}
		if ok, w := podcontrol.Available(pick, ds.Spec.MinReadySeconds, now); ok {
			st.NumberAvailable++
		} else if w > 0 && (wait == 0 || w < wait) {
			wait = w
		}
	}
	st.DesiredNumberScheduled = int32(len(desired))
	st.NumberUnavailable = max(st.DesiredNumberScheduled-st.NumberAvailable, 0)
	if apiequality.Semantic.DeepEqual(ds.Status, st) {
		return wait, nil
	}
	updated := ds.DeepCopy()
	updated.Status = st
	if err := r.client.Status().Update(ctx, updated); err != nil {
		return 0, err
	}
	return wait, nil
}
