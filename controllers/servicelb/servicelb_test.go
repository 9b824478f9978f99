package servicelb

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func node(name, internal, external string, ready bool, labels map[string]string) *corev1.Node {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: internal}}}}
	if external != "" {
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: external})
	}
	return n
}

func TestIngressFollowsReadyRealNodes(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	lb := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "lb"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}}
	classed := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "classed"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: new("example.com/lb")}}
	c := fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(&corev1.Service{}).WithObjects(lb, classed,
		node("b", "10.0.0.2", "", true, nil),
		node("a", "10.0.0.1", "203.0.113.1", true, nil),
		node("down", "10.0.0.3", "", false, nil),
		node("sim-0", "172.30.0.1", "", true, map[string]string{SimulatedLabel: "true"}),
	).Build()
	r := &reconciler{client: c}
	ctx := context.Background()
	reconcile := func(name string) *corev1.Service {
		t.Helper()
		if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Namespace: "default", Name: name}}); err != nil {
			t.Fatal(err)
		}
		got := &corev1.Service{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: name}, got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	var ips []string
	for _, ing := range reconcile("lb").Status.LoadBalancer.Ingress {
		ips = append(ips, ing.IP)
		if ing.IPMode == nil || *ing.IPMode != corev1.LoadBalancerIPModeVIP {
			t.Errorf("ingress %s: ipMode %v, want VIP", ing.IP, ing.IPMode)
		}
	}
	// ExternalIP before InternalIP; not the NotReady node nor the simulated one.
	if len(ips) != 2 || ips[0] != "10.0.0.2" || ips[1] != "203.0.113.1" {
		t.Errorf("ingress %v, want [10.0.0.2 203.0.113.1]", ips)
	}
	if got := reconcile("classed"); len(got.Status.LoadBalancer.Ingress) != 0 {
		t.Errorf("a Service with a loadBalancerClass got %v", got.Status.LoadBalancer.Ingress)
	}
	// No longer a LoadBalancer: its ingress goes.
	svc := reconcile("lb")
	svc.Spec.Type = corev1.ServiceTypeClusterIP
	if err := c.Update(ctx, svc); err != nil {
		t.Fatal(err)
	}
	if got := reconcile("lb"); len(got.Status.LoadBalancer.Ingress) != 0 {
		t.Errorf("a ClusterIP Service kept the ingress %v", got.Status.LoadBalancer.Ingress)
	}
}
