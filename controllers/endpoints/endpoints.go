package endpoints

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/endpointslice"
	endpointsliceutil "k8s.io/endpointslice/util"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/skiffhq/skiff/controllers/conflict"
)

// ControllerName marks the EndpointSlices this controller manages.
const ControllerName = "endpointslice-controller.k8s.io"

// maxEndpointsPerSlice is upstream's default.
const maxEndpointsPerSlice = 100

// maxEndpoints truncates legacy Endpoints as upstream does.
const maxEndpoints = 1000

type reconciler struct {
	client  client.Client
	slices  *endpointslice.Reconciler
	tracker *endpointsliceutil.EndpointSliceTracker
	clock   clock.PassiveClock
	core    kubernetes.Interface
}

// Setup registers the controller with the manager.
func Setup(mgr ctrl.Manager, cfg *rest.Config, clk clock.PassiveClock) error {
	// v1 Endpoints are deprecated; writing them is still this job.
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = rest.NoWarnings{}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	tracker := endpointsliceutil.NewEndpointSliceTracker()
	//nolint:staticcheck // k8s.io/endpointslice takes the core events recorder.
	var recorder record.EventRecorder = mgr.GetEventRecorderFor("endpoint-slice-controller")
	r := &reconciler{
		client:  mgr.GetClient(),
		tracker: tracker,
		clock:   clk,
		core:    cs,
		slices:  endpointslice.NewReconciler(cs, nodeLister{mgr.GetClient()}, maxEndpointsPerSlice, tracker, nil, recorder, ControllerName),
	}
	return ctrl.NewControllerManagedBy(mgr).Named("endpoints").
		For(&corev1.Service{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.servicesForPod)).
		Watches(&discoveryv1.EndpointSlice{}, &sliceHandler{tracker: tracker}).
		// Endpoints deleted behind our back are written again; others'
		// Endpoints (of Services without selectors) are theirs.
		Watches(&corev1.Endpoints{}, handler.Funcs{DeleteFunc: func(_ context.Context, e event.TypedDeleteEvent[client.Object], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: e.Object.GetNamespace(), Name: e.Object.GetName()}})
		}}).
		Complete(conflict.Retry(r))
}

// servicesForPod finds the Services whose selector matches a pod.
func (r *reconciler) servicesForPod(ctx context.Context, o client.Object) []reconcile.Request {
	var list corev1.ServiceList
	if err := r.client.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, svc := range list.Items {
		if svc.Spec.Selector != nil && labels.SelectorFromValidatedSet(svc.Spec.Selector).Matches(labels.Set(o.GetLabels())) {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}})
		}
	}
	return out
}

func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	svc := &corev1.Service{}
	if err := r.client.Get(ctx, req.NamespacedName, svc); apierrors.IsNotFound(err) {
		// Slices and Endpoints go with the Service (owner references).
		r.slices.DeleteService(req.Namespace, req.Name)
		err := r.core.CoreV1().Endpoints(req.Namespace).Delete(ctx, req.Name, metav1.DeleteOptions{})
		return ctrl.Result{}, client.IgnoreNotFound(err)
	} else if err != nil {
		return ctrl.Result{}, err
	}
	if svc.Spec.Selector == nil || svc.Spec.Type == corev1.ServiceTypeExternalName || svc.DeletionTimestamp != nil {
		return ctrl.Result{}, nil // managed by whoever made it
	}
	var podList corev1.PodList
	if err := r.client.List(ctx, &podList, client.InNamespace(svc.Namespace), client.MatchingLabels(svc.Spec.Selector), client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, err
	}
	pods := make([]*corev1.Pod, 0, len(podList.Items))
	for i := range podList.Items {
		pods = append(pods, &podList.Items[i])
	}
	var sliceList discoveryv1.EndpointSliceList
	if err := r.client.List(ctx, &sliceList, client.InNamespace(svc.Namespace), client.MatchingLabels{
		discoveryv1.LabelServiceName: svc.Name, discoveryv1.LabelManagedBy: ControllerName}); err != nil {
		return ctrl.Result{}, err
	}
	slices := make([]*discoveryv1.EndpointSlice, 0, len(sliceList.Items))
	for i := range sliceList.Items {
		slices = append(slices, &sliceList.Items[i])
	}
	if r.tracker.StaleSlices(svc, slices) {
		return ctrl.Result{RequeueAfter: 50 * time.Millisecond}, nil // the cache has not seen our last writes
	}
	logger := klog.FromContext(ctx)
	sliceErr := r.slices.Reconcile(logger, svc, pods, slices, r.clock.Now())
	if err := r.syncEndpoints(ctx, svc, pods); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, sliceErr
}

// syncEndpoints writes the legacy Endpoints of a Service.
func (r *reconciler) syncEndpoints(ctx context.Context, svc *corev1.Service, pods []*corev1.Pod) error {
	type key struct {
		ports string
	}
	subsets := map[key]*corev1.EndpointSubset{}
	var order []key
	total := 0
	for _, pod := range pods {
		if !endpointsliceutil.ShouldPodBeInEndpoints(pod, false) || pod.Status.PodIP == "" {
			continue
		}
		addr := corev1.EndpointAddress{IP: pod.Status.PodIP, NodeName: nodeName(pod),
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID}}
		if endpointsliceutil.ShouldSetHostname(pod, svc) {
			addr.Hostname = pod.Spec.Hostname
		}
		var ports []corev1.EndpointPort
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			port, err := endpointslice.FindPort(pod, sp)
			if err != nil {
				continue
			}
			ports = append(ports, corev1.EndpointPort{Name: sp.Name, Port: int32(port), Protocol: sp.Protocol, AppProtocol: sp.AppProtocol})
		}
		if len(ports) == 0 && len(svc.Spec.Ports) > 0 {
			continue
		}
		k := key{fmt.Sprint(ports)}
		ss, ok := subsets[k]
		if !ok {
			ss = &corev1.EndpointSubset{Ports: ports}
			subsets[k] = ss
			order = append(order, k)
		}
		if total >= maxEndpoints {
			continue
		}
		total++
		if svc.Spec.PublishNotReadyAddresses || endpointsliceutil.IsPodReady(pod) {
			ss.Addresses = append(ss.Addresses, addr)
		} else {
			ss.NotReadyAddresses = append(ss.NotReadyAddresses, addr)
		}
	}
	var out []corev1.EndpointSubset
	for _, k := range order {
		ss := subsets[k]
		sort.Slice(ss.Addresses, func(i, j int) bool { return ss.Addresses[i].IP < ss.Addresses[j].IP })
		sort.Slice(ss.NotReadyAddresses, func(i, j int) bool { return ss.NotReadyAddresses[i].IP < ss.NotReadyAddresses[j].IP })
		if len(ss.Addresses)+len(ss.NotReadyAddresses) > 0 {
			out = append(out, *ss)
		}
	}
	want := map[string]string{}
	for k, v := range svc.Labels {
		want[k] = v
	}
	want["endpointslice.kubernetes.io/skip-mirror"] = "true"
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		want[corev1.IsHeadlessService] = ""
	}
	annotations := map[string]string{}
	if total >= maxEndpoints {
		annotations[corev1.EndpointsOverCapacity] = "truncated"
	}
	cur := &corev1.Endpoints{}
	err := r.client.Get(ctx, types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}, cur)
	switch {
	case apierrors.IsNotFound(err):
		ep := &corev1.Endpoints{}
		ep.Namespace, ep.Name, ep.Labels, ep.Subsets = svc.Namespace, svc.Name, want, out
		if len(annotations) > 0 {
			ep.Annotations = annotations
		}
		if _, err := r.core.CoreV1().Endpoints(svc.Namespace).Create(ctx, ep, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) &&
			!apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return fmt.Errorf("creating endpoints: %w", err)
		}
		return nil
	case err != nil:
		return err
	}
	if apiequality.Semantic.DeepEqual(cur.Subsets, out) && apiequality.Semantic.DeepEqual(cur.Labels, want) &&
		cur.Annotations[corev1.EndpointsOverCapacity] == annotations[corev1.EndpointsOverCapacity] {
		return nil
	}
	updated := cur.DeepCopy()
	updated.Subsets, updated.Labels = out, want
	if v, ok := annotations[corev1.EndpointsOverCapacity]; ok {
		if updated.Annotations == nil {
			updated.Annotations = map[string]string{}
		}
		updated.Annotations[corev1.EndpointsOverCapacity] = v
	} else {
		delete(updated.Annotations, corev1.EndpointsOverCapacity)
	}
	if _, err := r.core.CoreV1().Endpoints(svc.Namespace).Update(ctx, updated, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating endpoints: %w", err)
	}
	return nil
}

func nodeName(p *corev1.Pod) *string {
	if p.Spec.NodeName == "" {
		return nil
	}
	n := p.Spec.NodeName
	return &n
}

// sliceHandler feeds slice events to the tracker and wakes the Service
// when a slice changed behind the controller's back.
type sliceHandler struct {
	tracker *endpointsliceutil.EndpointSliceTracker
}

func (h *sliceHandler) enqueue(o client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if name := o.GetLabels()[discoveryv1.LabelServiceName]; name != "" {
		q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: name}})
	}
}

func managed(o client.Object) bool {
	return o.GetLabels()[discoveryv1.LabelManagedBy] == ControllerName
}

func (h *sliceHandler) Create(_ context.Context, e event.TypedCreateEvent[client.Object], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if s, ok := e.Object.(*discoveryv1.EndpointSlice); ok && managed(s) && h.tracker.ShouldSync(s) {
		h.enqueue(s, q)
	}
}

func (h *sliceHandler) Update(_ context.Context, e event.TypedUpdateEvent[client.Object], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	s, ok := e.ObjectNew.(*discoveryv1.EndpointSlice)
	if !ok {
		return
	}
	if managed(e.ObjectOld) != managed(s) || (managed(s) && h.tracker.ShouldSync(s)) {
		h.enqueue(s, q)
	}
}

func (h *sliceHandler) Delete(_ context.Context, e event.TypedDeleteEvent[client.Object], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if s, ok := e.Object.(*discoveryv1.EndpointSlice); ok && managed(s) && h.tracker.HandleDeletion(s) {
		h.enqueue(s, q)
	}
}

func (h *sliceHandler) Generic(context.Context, event.TypedGenericEvent[client.Object], workqueue.TypedRateLimitingInterface[reconcile.Request]) {
}

// nodeLister serves the library's node lookups from the manager's cache.
type nodeLister struct{ c client.Reader }

func (l nodeLister) List(selector labels.Selector) ([]*corev1.Node, error) {
	var list corev1.NodeList
	if err := l.c.List(context.Background(), &list, client.MatchingLabelsSelector{Selector: selector}); err != nil {
		return nil, err
	}
	out := make([]*corev1.Node, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}

func (l nodeLister) Get(name string) (*corev1.Node, error) {
	n := &corev1.Node{}
	if err := l.c.Get(context.Background(), types.NamespacedName{Name: name}, n); err != nil {
		return nil, err
	}
	return n, nil
}

var _ corelisters.NodeLister = nodeLister{}
