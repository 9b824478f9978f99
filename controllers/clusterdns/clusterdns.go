package clusterdns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	nodeutil "k8s.io/component-helpers/node/util"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/skiffhq/skiff/proxy"
)

// Names of the Service and what marks its slices.
const (
	Namespace   = "kube-system"
	ServiceName = "kube-dns"
	// ManagedBy is the endpointslice.kubernetes.io/managed-by value of
	// the slices this controller writes.
	ManagedBy = "clusterdns.skiff.dev"
	// AddressAnnotation on a Node is where its agent serves DNS.
	AddressAnnotation = proxy.DNSAddressAnnotation
)

var key = types.NamespacedName{Namespace: Namespace, Name: ServiceName}

type reconciler struct {
	client client.Client
	ip     string
}

// Setup registers the controller; ip is the Service's cluster IP.
func Setup(mgr ctrl.Manager, ip net.IP) error {
	if ip == nil {
		return fmt.Errorf("clusterdns: no cluster IP for the DNS Service")
	}
	r := &reconciler{client: mgr.GetClient(), ip: ip.String()}
	ours := func(o client.Object) bool { return o.GetNamespace() == Namespace && o.GetName() == ServiceName }
	toService := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: key}}
	})
	nodeChanged := predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		o, n := e.ObjectOld.(*corev1.Node), e.ObjectNew.(*corev1.Node)
		return ready(o) != ready(n) || o.Annotations[AddressAnnotation] != n.Annotations[AddressAnnotation]
	}}
	return ctrl.NewControllerManagedBy(mgr).Named("clusterdns").
		For(&corev1.Service{}, builder.WithPredicates(predicate.NewPredicateFuncs(ours))).
		Watches(&corev1.Node{}, toService, builder.WithPredicates(nodeChanged)).
		Watches(&discoveryv1.EndpointSlice{}, toService, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return o.GetLabels()[discoveryv1.LabelManagedBy] == ManagedBy
		}))).
		// The namespace may come after the controller starts.
		Watches(&corev1.Namespace{}, toService, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return o.GetName() == Namespace
		}))).
		Complete(r)
}

func (r *reconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	svc := &corev1.Service{}
	err := r.client.Get(ctx, key, svc)
	switch {
	case apierrors.IsNotFound(err):
		svc = r.service()
		if err := r.client.Create(ctx, svc); err != nil {
			if apierrors.IsAlreadyExists(err) || apierrors.IsNotFound(err) {
				// Raced, or kube-system is not there yet: its watch brings us back.
				return ctrl.Result{}, nil
			}
			return ctrl.Result{}, fmt.Errorf("creating the DNS Service: %w", err)
		}
	case err != nil:
		return ctrl.Result{}, err
	}
	if svc.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, r.syncSlices(ctx, svc)
}

func (r *reconciler) service() *corev1.Service {
	udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: ServiceName, Labels: map[string]string{
			"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "skiff-dns"}},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP, ClusterIP: r.ip, ClusterIPs: []string{r.ip},
			Ports: []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: udp, TargetPort: intstr.FromInt32(53)},
				{Name: "dns-tcp", Port: 53, Protocol: tcp, TargetPort: intstr.FromInt32(53)},
			},
		},
	}
}

// syncSlices writes one EndpointSlice per DNS port in use, listing the
// Ready nodes serving on it, and removes the others.
func (r *reconciler) syncSlices(ctx context.Context, svc *corev1.Service) error {
	var nodes corev1.NodeList
	if err := r.client.List(ctx, &nodes); err != nil {
		return err
	}
	byPort := map[int32][]discoveryv1.Endpoint{}
	for _, n := range nodes.Items {
		ap, err := netip.ParseAddrPort(n.Annotations[AddressAnnotation])
		if err != nil || !ap.Addr().Is4() {
			continue
		}
		isReady := ready(&n)
		port := int32(ap.Port())
		byPort[port] = append(byPort[port], discoveryv1.Endpoint{
			Addresses: []string{ap.Addr().String()}, NodeName: new(n.Name),
			Conditions: discoveryv1.EndpointConditions{Ready: new(isReady), Serving: new(isReady), Terminating: new(false)},
		})
	}
	var existing discoveryv1.EndpointSliceList
	if err := r.client.List(ctx, &existing, client.InNamespace(Namespace), client.MatchingLabels{discoveryv1.LabelManagedBy: ManagedBy}); err != nil {
		return err
	}
	wanted := map[string]bool{}
	udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
	for port, eps := range byPort {
		slices.SortFunc(eps, func(a, b discoveryv1.Endpoint) int { return strings.Compare(a.Addresses[0], b.Addresses[0]) })
		name := ServiceName + "-" + strconv.Itoa(int(port))
		wanted[name] = true
		want := &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: name,
				Labels: map[string]string{discoveryv1.LabelServiceName: ServiceName, discoveryv1.LabelManagedBy: ManagedBy},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID,
					Controller: new(true), BlockOwnerDeletion: new(true)}}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   eps,
			Ports: []discoveryv1.EndpointPort{
				{Name: new("dns"), Port: new(port), Protocol: &udp},
				{Name: new("dns-tcp"), Port: new(port), Protocol: &tcp},
			},
		}
		var cur *discoveryv1.EndpointSlice
		for i := range existing.Items {
			if existing.Items[i].Name == name {
				cur = &existing.Items[i]
			}
		}
		if cur == nil {
			if err := r.client.Create(ctx, want); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("creating EndpointSlice %s: %w", name, err)
			}
			continue
		}
		if apiequality.Semantic.DeepEqual(cur.Endpoints, want.Endpoints) && apiequality.Semantic.DeepEqual(cur.Ports, want.Ports) &&
			apiequality.Semantic.DeepEqual(cur.OwnerReferences, want.OwnerReferences) {
			continue
		}
		updated := cur.DeepCopy()
		updated.Endpoints, updated.Ports, updated.OwnerReferences, updated.Labels = want.Endpoints, want.Ports, want.OwnerReferences, want.Labels
		if err := r.client.Update(ctx, updated); err != nil {
			return fmt.Errorf("updating EndpointSlice %s: %w", name, err)
		}
	}
	for i := range existing.Items {
		if s := &existing.Items[i]; !wanted[s.Name] {
			if err := r.client.Delete(ctx, s); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("deleting EndpointSlice %s: %w", s.Name, err)
			}
		}
	}
	return nil
}

func ready(n *corev1.Node) bool {
	_, c := nodeutil.GetNodeCondition(&n.Status, corev1.NodeReady)
	return c != nil && c.Status == corev1.ConditionTrue
}
