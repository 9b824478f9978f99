package clusterdns

import (
	"context"
	"net"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func node(name, dns string, ready bool) *corev1.Node {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}}}}
	if dns != "" {
		n.Annotations = map[string]string{AddressAnnotation: dns}
	}
	return n
}

func TestServiceAndSlicesFromNodes(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	stale := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: ServiceName + "-5353",
		Labels: map[string]string{discoveryv1.LabelServiceName: ServiceName, discoveryv1.LabelManagedBy: ManagedBy}},
		AddressType: discoveryv1.AddressTypeIPv4}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(stale,
		node("a", "10.0.0.1:53", true), node("b", "10.0.0.2:53", false), node("c", "10.0.0.3:1053", true),
		node("nodns", "", true), node("bad", "not an address", true),
	).Build()
	r := &reconciler{client: c, ip: net.ParseIP("10.96.0.10").String()}
	ctx := context.Background()
	for range 2 { // the second pass changes nothing
		if _, err := r.Reconcile(ctx, ctrl.Request{}); err != nil {
			t.Fatal(err)
		}
	}
	svc := &corev1.Service{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: ServiceName}, svc); err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP != "10.96.0.10" || len(svc.Spec.Ports) != 2 || svc.Spec.Ports[0].Protocol != corev1.ProtocolUDP ||
		svc.Spec.Ports[1].Protocol != corev1.ProtocolTCP || svc.Labels["k8s-app"] != "kube-dns" {
		t.Fatalf("kube-dns Service: %+v", svc)
	}
	var list discoveryv1.EndpointSliceList
	if err := c.List(ctx, &list, client.InNamespace(Namespace)); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, s := range list.Items {
		for _, e := range s.Endpoints {
			state := "ready"
			if !*e.Conditions.Ready {
				state = "not-ready"
			}
			got[s.Name] = append(got[s.Name], e.Addresses[0]+"/"+*e.NodeName+"/"+state)
		}
		if s.Name == ServiceName+"-1053" && (len(s.Ports) != 2 || *s.Ports[0].Port != 1053) {
			t.Errorf("slice %s ports %+v", s.Name, s.Ports)
		}
	}
	if len(list.Items) != 2 {
		t.Errorf("%d slices, want kube-dns-53 and kube-dns-1053 (the stale kube-dns-5353 gone)", len(list.Items))
	}
	if len(got) != 2 || len(got[ServiceName+"-53"]) != 2 || got[ServiceName+"-53"][0] != "10.0.0.1/a/ready" ||
		got[ServiceName+"-53"][1] != "10.0.0.2/b/not-ready" || len(got[ServiceName+"-1053"]) != 1 {
		t.Errorf("slices %v: want kube-dns-53 with a (ready) and b (not ready), kube-dns-1053 with c, and the stale 5353 gone", got)
	}
}
