package apiserver

import (
	"context"
	"fmt"
	"net"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/component-helpers/auth/rbac/reconciliation"
	"k8s.io/klog/v2"
	netutils "k8s.io/utils/net"

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
	return nil
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
	for i := range bootstrappolicy.ClusterRoles() {
		role := bootstrappolicy.ClusterRoles()[i]
		opts := reconciliation.ReconcileRoleOptions{
			Role:    reconciliation.ClusterRoleRuleOwner{ClusterRole: &role},
			Client:  reconciliation.ClusterRoleModifier{Client: client.RbacV1().ClusterRoles()},
			Confirm: true,
		}
		if _, err := opts.Run(); err != nil {
			return fmt.Errorf("reconciling cluster role %s: %w", role.Name, err)
		}
	}
	for i := range bootstrappolicy.ClusterRoleBindings() {
		b := bootstrappolicy.ClusterRoleBindings()[i]
		opts := reconciliation.ReconcileRoleBindingOptions{
			RoleBinding: reconciliation.ClusterRoleBindingAdapter{ClusterRoleBinding: &b},
			Client:      reconciliation.ClusterRoleBindingClientAdapter{Client: client.RbacV1().ClusterRoleBindings()},
			Confirm:     true,
		}
		if _, err := opts.Run(); err != nil {
			return fmt.Errorf("reconciling cluster role binding %s: %w", b.Name, err)
		}
	}
	return nil
}
