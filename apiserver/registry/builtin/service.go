package builtin

import (
	"context"
	"errors"
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/klog/v2"
	netutils "k8s.io/utils/net"

	"github.com/skiffhq/skiff/apiserver/allocator"
)

// ServiceAllocators give Services their cluster IPs and node ports.
type ServiceAllocators struct {
	IPs       *allocator.IPRange
	NodePorts *allocator.PortRange
}

// ServiceOwner is the allocation owner of a Service.
func ServiceOwner(namespace, name string) string { return namespace + "/" + name }

func needsClusterIP(svc *corev1.Service) bool {
	return svc.Spec.Type != corev1.ServiceTypeExternalName
}

func needsNodePorts(svc *corev1.Service) bool {
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort:
		return true
	case corev1.ServiceTypeLoadBalancer:
		return svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts
	}
	return false
}

func needsHealthCheckNodePort(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
}

func isDryRun(dryRun []string) bool {
	return len(dryRun) > 0 && dryRun[0] == metav1.DryRunAll
}

// transaction collects what a request allocated, to release it if the
// request fails.
type transaction struct {
	a        ServiceAllocators
	owner    string
	dryRun   bool
	ips      []string
	ports    []int
	released []func(context.Context)
}

func (t *transaction) finish(ctx context.Context, success bool) {
	if t.dryRun {
		return
	}
	if success {
		for _, release := range t.released {
			release(ctx)
		}
		return
	}
	for _, ip := range t.ips {
		if err := t.a.IPs.Release(ctx, ip, t.owner); err != nil {
			klog.FromContext(ctx).Error(err, "Releasing a cluster IP after a failed request", "ip", ip)
		}
	}
	for _, p := range t.ports {
		if err := t.a.NodePorts.Release(ctx, p, t.owner); err != nil {
			klog.FromContext(ctx).Error(err, "Releasing a node port after a failed request", "port", p)
		}
	}
}

func (t *transaction) allocateIP(ctx context.Context, svc *corev1.Service) *field.Error {
	path := field.NewPath("spec", "clusterIPs").Index(0)
	requested := svc.Spec.ClusterIP
	if requested == "" && len(svc.Spec.ClusterIPs) > 0 {
		requested = svc.Spec.ClusterIPs[0]
	}
	var ip net.IP
	if requested == "" {
		got, err := t.a.IPs.AllocateNext(ctx, t.owner, t.dryRun)
		if err != nil {
			return field.InternalError(path, fmt.Errorf("failed to allocate a serviceIP: %w", err))
		}
		ip = got
	} else {
		ip = netutils.ParseIPSloppy(requested)
		if ip == nil {
			return field.Invalid(path, requested, "must be a valid IP address")
		}
		switch err := t.a.IPs.Allocate(ctx, ip, t.owner, t.dryRun); {
		case errors.Is(err, allocator.ErrNotInRange):
			return field.Invalid(path, requested, fmt.Sprintf("failed to allocate IP %s: the provided IP (%s) is not in the valid range. The range of valid IPs is %s", requested, requested, t.a.IPs.CIDR))
		case errors.Is(err, allocator.ErrAllocated):
			return field.Invalid(path, requested, fmt.Sprintf("failed to allocate IP %s: provided IP is already allocated", requested))
		case err != nil:
			return field.InternalError(path, err)
		}
	}
	if !t.dryRun {
		t.ips = append(t.ips, ip.String())
	}
	svc.Spec.ClusterIP = ip.String()
	svc.Spec.ClusterIPs = []string{ip.String()}
	family := corev1.IPv4Protocol
	if ip.To4() == nil {
		family = corev1.IPv6Protocol
	}
	svc.Spec.IPFamilies = []corev1.IPFamily{family}
	if svc.Spec.IPFamilyPolicy == nil {
		p := corev1.IPFamilyPolicySingleStack
		svc.Spec.IPFamilyPolicy = &p
	}
	return nil
}

func (t *transaction) allocatePort(ctx context.Context, requested int32, path *field.Path) (int32, *field.Error) {
	if requested == 0 {
		p, err := t.a.NodePorts.AllocateNext(ctx, t.owner, t.dryRun)
		if err != nil {
			return 0, field.InternalError(path, fmt.Errorf("failed to allocate a nodePort: %w", err))
		}
		if !t.dryRun {
			t.ports = append(t.ports, p)
		}
		return int32(p), nil
	}
	switch err := t.a.NodePorts.Allocate(ctx, int(requested), t.owner, t.dryRun); {
	case errors.Is(err, allocator.ErrNotInRange):
		return 0, field.Invalid(path, requested, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", t.a.NodePorts.Base, t.a.NodePorts.Base+t.a.NodePorts.Size-1))
	case errors.Is(err, allocator.ErrAllocated):
		return 0, field.Invalid(path, requested, "provided port is already allocated")
	case err != nil:
		return 0, field.InternalError(path, err)
	}
	if !t.dryRun {
		t.ports = append(t.ports, int(requested))
	}
	return requested, nil
}

// allocateNodePorts gives every port a node port, reusing those of old
// (the same port and protocol) when the client left them out.
func (t *transaction) allocateNodePorts(ctx context.Context, svc, old *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.NodePort == 0 && old != nil {
			for _, op := range old.Spec.Ports {
				if op.NodePort != 0 && op.Port == p.Port && op.Protocol == p.Protocol {
					p.NodePort = op.NodePort
				}
			}
		}
		got, err := t.allocatePort(ctx, p.NodePort, field.NewPath("spec", "ports").Index(i).Child("nodePort"))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.NodePort = got
	}
	if needsHealthCheckNodePort(svc) {
		if svc.Spec.HealthCheckNodePort == 0 && old != nil {
			svc.Spec.HealthCheckNodePort = old.Spec.HealthCheckNodePort
		}
		got, err := t.allocatePort(ctx, svc.Spec.HealthCheckNodePort, field.NewPath("spec", "healthCheckNodePort"))
		if err != nil {
			errs = append(errs, err)
		} else {
			svc.Spec.HealthCheckNodePort = got
		}
	}
	return errs
}

func invalidService(svc *corev1.Service, errs field.ErrorList) error {
	return apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), svc.Name, errs)
}

func (a ServiceAllocators) beginCreate(ctx context.Context, obj runtime.Object, options *metav1.CreateOptions) (genericregistry.FinishFunc, error) {
	svc := obj.(*corev1.Service)
	t := &transaction{a: a, owner: ServiceOwner(svc.Namespace, svc.Name), dryRun: isDryRun(options.DryRun)}
	var errs field.ErrorList
	if needsClusterIP(svc) {
		if svc.Spec.ClusterIP == corev1.ClusterIPNone {
			svc.Spec.ClusterIPs = []string{corev1.ClusterIPNone}
			if svc.Spec.IPFamilyPolicy == nil {
				p := corev1.IPFamilyPolicySingleStack
				svc.Spec.IPFamilyPolicy = &p
			}
			if len(svc.Spec.IPFamilies) == 0 {
				svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
			}
		} else if err := t.allocateIP(ctx, svc); err != nil {
			errs = append(errs, err)
		}
	}
	if needsNodePorts(svc) {
		errs = append(errs, t.allocateNodePorts(ctx, svc, nil)...)
	} else if needsHealthCheckNodePort(svc) {
		if _, err := t.allocatePort(ctx, svc.Spec.HealthCheckNodePort, field.NewPath("spec", "healthCheckNodePort")); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		t.finish(ctx, false)
		return nil, invalidService(svc, errs)
	}
	return t.finish, nil
}

func (a ServiceAllocators) beginUpdate(ctx context.Context, obj, oldObj runtime.Object, options *metav1.UpdateOptions) (genericregistry.FinishFunc, error) {
	svc, old := obj.(*corev1.Service), oldObj.(*corev1.Service)
	t := &transaction{a: a, owner: ServiceOwner(svc.Namespace, svc.Name), dryRun: isDryRun(options.DryRun)}
	var errs field.ErrorList

	switch {
	case needsClusterIP(old) && needsClusterIP(svc):
		// Clients that leave the allocated IP out keep it.
		if svc.Spec.ClusterIP == "" && len(svc.Spec.ClusterIPs) == 0 {
			svc.Spec.ClusterIP, svc.Spec.ClusterIPs = old.Spec.ClusterIP, old.Spec.ClusterIPs
		}
		if len(svc.Spec.IPFamilies) == 0 {
			svc.Spec.IPFamilies = old.Spec.IPFamilies
		}
		if svc.Spec.IPFamilyPolicy == nil {
			svc.Spec.IPFamilyPolicy = old.Spec.IPFamilyPolicy
		}
	case needsClusterIP(old) && !needsClusterIP(svc):
		if svc.Spec.ClusterIP == old.Spec.ClusterIP {
			svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil
			svc.Spec.IPFamilies, svc.Spec.IPFamilyPolicy = nil, nil
		}
		if ip := old.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone {
			t.released = append(t.released, func(ctx context.Context) { _ = a.IPs.Release(ctx, ip, t.owner) })
		}
	case !needsClusterIP(old) && needsClusterIP(svc):
		if svc.Spec.ClusterIP != corev1.ClusterIPNone {
			if err := t.allocateIP(ctx, svc); err != nil {
				errs = append(errs, err)
			}
		}
	}

	oldPorts := map[int32]bool{}
	if needsNodePorts(old) {
		for _, p := range old.Spec.Ports {
			if p.NodePort != 0 {
				oldPorts[p.NodePort] = true
			}
		}
	}
	if old.Spec.HealthCheckNodePort != 0 {
		oldPorts[old.Spec.HealthCheckNodePort] = true
	}
	if needsNodePorts(old) && !needsNodePorts(svc) && sameNodePorts(svc, old) {
		for i := range svc.Spec.Ports {
			svc.Spec.Ports[i].NodePort = 0
		}
	}
	if !needsHealthCheckNodePort(svc) && svc.Spec.HealthCheckNodePort == old.Spec.HealthCheckNodePort {
		svc.Spec.HealthCheckNodePort = 0
	}
	// Fields that only fit the old type go with it, as upstream drops them.
	externalPolicyTypes := func(t corev1.ServiceType) bool {
		return t == corev1.ServiceTypeNodePort || t == corev1.ServiceTypeLoadBalancer
	}
	if externalPolicyTypes(old.Spec.Type) && !externalPolicyTypes(svc.Spec.Type) && svc.Spec.ExternalTrafficPolicy == old.Spec.ExternalTrafficPolicy {
		svc.Spec.ExternalTrafficPolicy = ""
	}
	if old.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.Type != corev1.ServiceTypeLoadBalancer &&
		equalPtr(svc.Spec.AllocateLoadBalancerNodePorts, old.Spec.AllocateLoadBalancerNodePorts) {
		svc.Spec.AllocateLoadBalancerNodePorts = nil
	}
	if old.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.Type != corev1.ServiceTypeLoadBalancer &&
		equalPtr(svc.Spec.LoadBalancerClass, old.Spec.LoadBalancerClass) {
		svc.Spec.LoadBalancerClass = nil
	}
	if needsNodePorts(svc) {
		var prev *corev1.Service
		if needsNodePorts(old) {
			prev = old
		}
		errs = append(errs, t.allocateNodePorts(ctx, svc, prev)...)
	}
	kept := map[int32]bool{}
	for _, p := range svc.Spec.Ports {
		kept[p.NodePort] = true
	}
	kept[svc.Spec.HealthCheckNodePort] = true
	for port := range oldPorts {
		if !kept[port] {
			port := int(port)
			t.released = append(t.released, func(ctx context.Context) { _ = a.NodePorts.Release(ctx, port, t.owner) })
		}
	}
	if len(errs) > 0 {
		t.finish(ctx, false)
		return nil, invalidService(svc, errs)
	}
	return t.finish, nil
}

func sameNodePorts(svc, old *corev1.Service) bool {
	if len(svc.Spec.Ports) != len(old.Spec.Ports) {
		return false
	}
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].NodePort != old.Spec.Ports[i].NodePort {
			return false
		}
	}
	return true
}

func (a ServiceAllocators) afterDelete(obj runtime.Object, options *metav1.DeleteOptions) {
	if options != nil && isDryRun(options.DryRun) {
		return
	}
	svc := obj.(*corev1.Service)
	owner := ServiceOwner(svc.Namespace, svc.Name)
	ctx := context.Background()
	for _, ip := range svc.Spec.ClusterIPs {
		if ip != "" && ip != corev1.ClusterIPNone {
			if err := a.IPs.Release(ctx, ip, owner); err != nil {
				klog.ErrorS(err, "Releasing a cluster IP", "service", owner, "ip", ip)
			}
		}
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			if err := a.NodePorts.Release(ctx, int(p.NodePort), owner); err != nil {
				klog.ErrorS(err, "Releasing a node port", "service", owner, "port", p.NodePort)
			}
		}
	}
	if svc.Spec.HealthCheckNodePort != 0 {
		_ = a.NodePorts.Release(ctx, int(svc.Spec.HealthCheckNodePort), owner)
	}
}

func equalPtr[T comparable](a, b *T) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}
