package servicelb

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	nodeutil "k8s.io/component-helpers/node/util"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// SimulatedLabel marks nodes that run no real network.
const SimulatedLabel = "skiff.dev/simulated"

type reconciler struct {
	client client.Client
}

// Setup registers the controller with the manager.
func Setup(mgr ctrl.Manager) error {
	r := &reconciler{client: mgr.GetClient()}
	return ctrl.NewControllerManagedBy(mgr).Named("servicelb").
		For(&corev1.Service{}).
		Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(r.allLoadBalancers), builder.WithPredicates(predicate.Funcs{
			// Heartbeats change nothing that matters here.
			UpdateFunc: func(e event.UpdateEvent) bool {
				o, n := e.ObjectOld.(*corev1.Node), e.ObjectNew.(*corev1.Node)
				return ready(o) != ready(n) || !apiequality.Semantic.DeepEqual(o.Status.Addresses, n.Status.Addresses) ||
					o.Labels[SimulatedLabel] != n.Labels[SimulatedLabel]
			},
		})).
		Complete(r)
}

// allLoadBalancers re-evaluates every LoadBalancer Service when a node
// changes (becomes Ready, changes address, goes).
func (r *reconciler) allLoadBalancers(ctx context.Context, _ client.Object) []reconcile.Request {
	var list corev1.ServiceList
	if err := r.client.List(ctx, &list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, s := range list.Items {
		if s.Spec.Type == corev1.ServiceTypeLoadBalancer || len(s.Status.LoadBalancer.Ingress) > 0 {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: s.Namespace, Name: s.Name}})
		}
	}
	return out
}

func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	svc := &corev1.Service{}
	if err := r.client.Get(ctx, req.NamespacedName, svc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	var want []corev1.LoadBalancerIngress
	switch {
	case svc.Spec.LoadBalancerClass != nil:
		// Another controller's.
		return ctrl.Result{}, nil
	case svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.DeletionTimestamp == nil:
		ips, err := r.nodeAddresses(ctx)
		if err != nil {
			return ctrl.Result{}, err
		}
		for _, ip := range ips {
			want = append(want, corev1.LoadBalancerIngress{IP: ip, IPMode: new(corev1.LoadBalancerIPModeVIP)})
		}
	}
	// A Service no longer of type LoadBalancer loses its ingress, as upstream.
	if apiequality.Semantic.DeepEqual(svc.Status.LoadBalancer.Ingress, want) {
		return ctrl.Result{}, nil
	}
	updated := svc.DeepCopy()
	updated.Status.LoadBalancer.Ingress = want
	if err := r.client.Status().Update(ctx, updated); err != nil {
		return ctrl.Result{}, fmt.Errorf("updating the load balancer status: %w", err)
	}
	return ctrl.Result{}, nil
}

// nodeAddresses are the addresses of the Ready, real nodes, sorted.
func (r *reconciler) nodeAddresses(ctx context.Context) ([]string, error) {
	var nodes corev1.NodeList
	if err := r.client.List(ctx, &nodes); err != nil {
		return nil, err
	}
	var ips []string
	for _, n := range nodes.Items {
		if n.Labels[SimulatedLabel] == "true" || !ready(&n) {
			continue
		}
		ip := address(&n, corev1.NodeExternalIP)
		if ip == "" {
			ip = address(&n, corev1.NodeInternalIP)
		}
		if ip != "" && !slices.Contains(ips, ip) {
			ips = append(ips, ip)
		}
	}
	slices.Sort(ips)
	return ips, nil
}

func ready(n *corev1.Node) bool {
	_, c := nodeutil.GetNodeCondition(&n.Status, corev1.NodeReady)
	return c != nil && c.Status == corev1.ConditionTrue
}

func address(n *corev1.Node, typ corev1.NodeAddressType) string {
	for _, a := range n.Status.Addresses {
		if a.Type == typ {
			return a.Address
		}
	}
	return ""
}
