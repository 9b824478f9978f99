package apiserver

import (
	"context"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/skiffhq/skiff/apiserver/allocator"
	"github.com/skiffhq/skiff/apiserver/registry/builtin"
)

func listServices(ctx context.Context, client kubernetes.Interface) (*corev1.ServiceList, int64, error) {
	// A quorum read: allocations made before it are reflected in it.
	list, err := client.CoreV1().Services("").List(ctx, metav1.ListOptions{ResourceVersion: ""})
	if err != nil {
		return nil, 0, err
	}
	rv, err := strconv.ParseInt(list.ResourceVersion, 10, 64)
	return list, rv, err
}

// serviceIPHoldings lists the cluster IPs Services use.
func serviceIPHoldings(client kubernetes.Interface) allocator.Holdings {
	return func(ctx context.Context) (map[string]string, int64, error) {
		list, rv, err := listServices(ctx, client)
		if err != nil {
			return nil, 0, err
		}
		want := map[string]string{}
		for _, svc := range list.Items {
			for _, ip := range svc.Spec.ClusterIPs {
				if ip != "" && ip != corev1.ClusterIPNone {
					want[ip] = builtin.ServiceOwner(svc.Namespace, svc.Name)
				}
			}
		}
		return want, rv, nil
	}
}

// nodePortHoldings lists the node ports Services use.
func nodePortHoldings(client kubernetes.Interface) allocator.Holdings {
	return func(ctx context.Context) (map[string]string, int64, error) {
		list, rv, err := listServices(ctx, client)
		if err != nil {
			return nil, 0, err
		}
		want := map[string]string{}
		for _, svc := range list.Items {
			owner := builtin.ServiceOwner(svc.Namespace, svc.Name)
			for _, p := range svc.Spec.Ports {
				if p.NodePort != 0 {
					want[strconv.Itoa(int(p.NodePort))] = owner
				}
			}
			if svc.Spec.HealthCheckNodePort != 0 {
				want[strconv.Itoa(int(svc.Spec.HealthCheckNodePort))] = owner
			}
		}
		return want, rv, nil
	}
}
