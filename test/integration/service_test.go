package integration

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	netutils "k8s.io/utils/net"

	"github.com/skiffhq/skiff/test/testserver"
)

func service(name string, typ corev1.ServiceType, nodePort int32) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{Type: typ, Selector: map[string]string{"app": name},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080), NodePort: nodePort}}},
	}
}

// TestServiceAllocation checks cluster IP and node port allocation:
// unique under concurrent creates, conflicts refused, released on delete.
func TestServiceAllocation(t *testing.T) {
	srv := testserver.Start(t, "--service-cluster-ip-range", "10.100.0.0/24")
	c := srv.Client(t)
	ctx := context.Background()
	n := ns(t, c)

	const count = 40
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ips  = map[string]string{}
		errs []error
	)
	for i := 0; i < count; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			typ := corev1.ServiceTypeClusterIP
			if i%2 == 0 {
				typ = corev1.ServiceTypeNodePort
			}
			got, err := c.CoreV1().Services(n).Create(ctx, service(fmt.Sprintf("s%d", i), typ, 0), metav1.CreateOptions{})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			ips[got.Spec.ClusterIP] = got.Name
			if typ == corev1.ServiceTypeNodePort {
				ips[fmt.Sprint(got.Spec.Ports[0].NodePort)] = got.Name
			}
		}(i)
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("concurrent creates failed: %v", errs)
	}
	// count cluster IPs plus count/2 node ports, all distinct.
	if len(ips) != count+count/2 {
		t.Fatalf("got %d distinct IPs and ports, want %d: %v", len(ips), count+count/2, ips)
	}
	_, cidr, _ := netutils.ParseCIDRSloppy("10.100.0.0/24")
	for ip := range ips {
		if parsed := netutils.ParseIPSloppy(ip); parsed != nil && !cidr.Contains(parsed) {
			t.Errorf("cluster IP %s outside %s", ip, cidr)
		}
	}

	// A taken node port and a taken or foreign cluster IP are refused.
	s0, _ := c.CoreV1().Services(n).Get(ctx, "s0", metav1.GetOptions{})
	_, err := c.CoreV1().Services(n).Create(ctx, service("dup-port", corev1.ServiceTypeNodePort, s0.Spec.Ports[0].NodePort), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "provided port is already allocated") {
		t.Errorf("duplicate node port: %v", err)
	}
	dupIP := service("dup-ip", corev1.ServiceTypeClusterIP, 0)
	dupIP.Spec.ClusterIP = s0.Spec.ClusterIP
	_, err = c.CoreV1().Services(n).Create(ctx, dupIP, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "provided IP is already allocated") {
		t.Errorf("duplicate cluster IP: %v", err)
	}
	dupIP.Spec.ClusterIP = "10.200.0.9"
	_, err = c.CoreV1().Services(n).Create(ctx, dupIP, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "not in the valid range") {
		t.Errorf("cluster IP outside the range: %v", err)
	}
	badPort := service("bad-port", corev1.ServiceTypeNodePort, 8080)
	_, err = c.CoreV1().Services(n).Create(ctx, badPort, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "The range of valid ports is 30000-32767") {
		t.Errorf("node port outside the range: %v", err)
	}

	// A dry-run create allocates nothing.
	dry := service("dry", corev1.ServiceTypeClusterIP, 0)
	for i := 250; i > 0; i-- {
		if ip := fmt.Sprintf("10.100.0.%d", i); ips[ip] == "" {
			dry.Spec.ClusterIP = ip
			break
		}
	}
	if _, err := c.CoreV1().Services(n).Create(ctx, dry, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().Services(n).Create(ctx, dry, metav1.CreateOptions{}); err != nil {
		t.Errorf("IP used by a dry run is not free: %v", err)
	}

	// Deleting releases the IP and the node port for reuse.
	if err := c.CoreV1().Services(n).Delete(ctx, "s0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	again := service("again", corev1.ServiceTypeNodePort, s0.Spec.Ports[0].NodePort)
	again.Spec.ClusterIP = s0.Spec.ClusterIP
	if _, err := c.CoreV1().Services(n).Create(ctx, again, metav1.CreateOptions{}); err != nil {
		t.Errorf("reusing a released IP and port: %v", err)
	}

	// An update that leaves the allocated values out keeps them; the
	// cluster IP cannot change.
	s1, _ := c.CoreV1().Services(n).Get(ctx, "s2", metav1.GetOptions{})
	upd := s1.DeepCopy()
	upd.Spec.ClusterIP, upd.Spec.ClusterIPs, upd.Spec.Ports[0].NodePort = "", nil, 0
	upd.Spec.Selector = map[string]string{"app": "other"}
	got, err := c.CoreV1().Services(n).Update(ctx, upd, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.ClusterIP != s1.Spec.ClusterIP || got.Spec.Ports[0].NodePort != s1.Spec.Ports[0].NodePort {
		t.Errorf("update lost allocations: %s/%d, had %s/%d", got.Spec.ClusterIP, got.Spec.Ports[0].NodePort, s1.Spec.ClusterIP, s1.Spec.Ports[0].NodePort)
	}
	// Changing the type to ClusterIP drops the node port and the
	// external traffic policy, and frees the port.
	np := got.Spec.Ports[0].NodePort
	got.Spec.Type = corev1.ServiceTypeClusterIP
	got, err = c.CoreV1().Services(n).Update(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("changing the type to ClusterIP: %v", err)
	}
	if got.Spec.Ports[0].NodePort != 0 || got.Spec.ExternalTrafficPolicy != "" {
		t.Errorf("after the type change: nodePort %d externalTrafficPolicy %q", got.Spec.Ports[0].NodePort, got.Spec.ExternalTrafficPolicy)
	}
	if _, err := c.CoreV1().Services(n).Create(ctx, service("takes-port", corev1.ServiceTypeNodePort, np), metav1.CreateOptions{}); err != nil {
		t.Errorf("the node port was not freed by the type change: %v", err)
	}
	got.Spec.ClusterIP, got.Spec.ClusterIPs = dry.Spec.ClusterIP, []string{dry.Spec.ClusterIP}
	if _, err := c.CoreV1().Services(n).Update(ctx, got, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("changing the cluster IP: %v, want 422", err)
	}
}
