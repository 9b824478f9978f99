package apiserver

import (
	"context"
	"fmt"
	"net"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/component-helpers/auth/rbac/reconciliation"
	"k8s.io/klog/v2"
	netutils "k8s.io/utils/net"

	schedulingv1api "github.com/skiffhq/skiff/apis/scheduling/v1"
	"github.com/skiffhq/skiff/config/bootstrappolicy"
)

// systemNamespaces exist from the first start, as in every cluster.
var systemNamespaces = []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease}

// bootstrap creates the system namespaces and the kubernetes Service,
// retrying until the server accepts them.
func bootstrap(ctx context.Context, client kubernetes.Interface, c CompletedConfig) error {
	logger := klog.FromContext(ctx)
	return wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if err := ensureBootstrapObjects(ctx, client, c); err != nil {
			logger.V(2).Info("Bootstrap objects not created yet", "err", err)
			return false, nil
		}
		return true, nil
	})
}

func ensureBootstrapObjects(ctx context.Context, client kubernetes.Interface, c CompletedConfig) error {
	if err := ensureRBACPolicy(client); err != nil {
		return err
	}
	for _, pc := range schedulingv1api.SystemPriorityClasses() {
		if _, err := client.SchedulingV1().PriorityClasses().Create(ctx, &pc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating priority class %s: %w", pc.Name, err)
		}
	}
	for _, name := range systemNamespaces {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating namespace %s: %w", name, err)
		}
	}
	ip, err := netutils.GetIndexedIP(c.ServiceClusterIPRange, 1)
	if err != nil {
		return fmt.Errorf("choosing the kubernetes service IP: %w", err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeClusterIP,
			ClusterIP: ip.String(),
			Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP,
				TargetPort: intstr.FromInt32(int32(c.advertisedPort()))}},
			SessionAffinity: corev1.ServiceAffinityNone,
		},
	}
	if _, err := client.CoreV1().Services(metav1.NamespaceDefault).Create(ctx, svc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the kubernetes service: %w", err)
	}
	return ensureAPIEndpoints(ctx, client, c.advertiseAddress(), int32(c.advertisedPort()))
}

// ensureAPIEndpoints points the kubernetes Service at this API server
// through an Endpoints object and an EndpointSlice, as kube-apiserver's
// endpoint reconciler does.
func ensureAPIEndpoints(ctx context.Context, client kubernetes.Interface, ip net.IP, port int32) error {
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{discoveryv1.LabelSkipMirror: "true"}},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: ip.String()}},
			Ports:     []corev1.EndpointPort{{Name: "https", Port: port, Protocol: corev1.ProtocolTCP}},
		}},
	}
	existing, err := client.CoreV1().Endpoints(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if _, err := client.CoreV1().Endpoints(metav1.NamespaceDefault).Create(ctx, ep, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating the kubernetes endpoints: %w", err)
		}
	case err != nil:
		return err
	case !equality.Semantic.DeepEqual(existing.Subsets, ep.Subsets):
		existing.Subsets = ep.Subsets
		if _, err := client.CoreV1().Endpoints(metav1.NamespaceDefault).Update(ctx, existing, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("updating the kubernetes endpoints: %w", err)
		}
	}
	ready := true
	portName := "https"
	protocol := corev1.ProtocolTCP
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{discoveryv1.LabelServiceName: "kubernetes", discoveryv1.LabelManagedBy: "kube-apiserver"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ip.String()}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Port: &port, Protocol: &protocol}},
	}
	if ip.To4() == nil {
		slice.AddressType = discoveryv1.AddressTypeIPv6
	}
	existingSlice, err := client.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if _, err := client.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).Create(ctx, slice, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating the kubernetes endpoint slice: %w", err)
		}
	case err != nil:
		return err
	case !equality.Semantic.DeepEqual(existingSlice.Endpoints, slice.Endpoints) || !equality.Semantic.DeepEqual(existingSlice.Ports, slice.Ports):
		existingSlice.Endpoints, existingSlice.Ports, existingSlice.AddressType = slice.Endpoints, slice.Ports, slice.AddressType
		if _, err := client.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).Update(ctx, existingSlice, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("updating the kubernetes endpoint slice: %w", err)
		}
	}
	return nil
}

// advertiseAddress is the address other members reach this API server on:
// the bind address, or the first address of the host when it binds all.
func (c CompletedConfig) advertiseAddress() net.IP {
	if c.AdvertiseAddress != nil {
		return c.AdvertiseAddress
	}
	if c.BindAddress != nil && !c.BindAddress.IsUnspecified() {
		return c.BindAddress
	}
	if ip, err := utilnet.ResolveBindAddress(c.BindAddress); err == nil {
		return ip
	}
	return net.ParseIP("127.0.0.1")
}

// advertisedPort is the port the API server is reachable on.
func (c CompletedConfig) advertisedPort() int {
	if c.Listener != nil {
		if addr, ok := c.Listener.Addr().(*net.TCPAddr); ok {
			return addr.Port
		}
	}
	return c.SecurePort
}

// ensureRBACPolicy creates the bootstrap roles and bindings, and adds what
// is missing to those marked for auto-update, as upstream does at startup.
func ensureRBACPolicy(client kubernetes.Interface) error {
	// Roles and bindings are independent of each other: reconciled a few at
	// a time, start-up does not wait on some eighty round trips in turn.
	var g errgroup.Group
	g.SetLimit(8)
	for _, role := range bootstrappolicy.ClusterRoles() {
		g.Go(func() error {
			opts := reconciliation.ReconcileRoleOptions{
				Role:    reconciliation.ClusterRoleRuleOwner{ClusterRole: &role},
				Client:  reconciliation.ClusterRoleModifier{Client: client.RbacV1().ClusterRoles()},
				Confirm: true,
			}
			if _, err := opts.Run(); err != nil {
				return fmt.Errorf("reconciling cluster role %s: %w", role.Name, err)
			}
			return nil
		})
	}
	for _, b := range bootstrappolicy.ClusterRoleBindings() {
		g.Go(func() error {
			opts := reconciliation.ReconcileRoleBindingOptions{
				RoleBinding: reconciliation.ClusterRoleBindingAdapter{ClusterRoleBinding: &b},
				Client:      reconciliation.ClusterRoleBindingClientAdapter{Client: client.RbacV1().ClusterRoleBindings()},
				Confirm:     true,
			}
			if _, err := opts.Run(); err != nil {
				return fmt.Errorf("reconciling cluster role binding %s: %w", b.Name, err)
			}
			return nil
		})
	}
	return g.Wait()
}
