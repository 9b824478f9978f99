package server

import (
	"context"
	"net"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/skiffhq/skiff/kubelet/network"
)

// routeSyncInterval is how often a node's routes to the other nodes' pods
// are checked.
const routeSyncInterval = 5 * time.Second

// syncPodRoutes keeps this machine's routes to the pods of the other
// nodes (each node's podCIDR via its InternalIP, as flannel's host-gw
// backend: the nodes must share a link) until ctx ends. The routes stay
// when the agent stops, so that pods keep talking across a restart; the
// next agent's first sync corrects them.
func syncPodRoutes(ctx context.Context, client kubernetes.Interface, nodeName string) error {
	logger := klog.FromContext(ctx).WithName("routes")
	ticker := time.NewTicker(routeSyncInterval)
	defer ticker.Stop()
	var lastErr string
	for {
		if err := syncPodRoutesOnce(ctx, client, nodeName); err != nil && err.Error() != lastErr && ctx.Err() == nil {
			logger.Error(err, "syncing routes to other nodes' pods")
			lastErr = err.Error()
		} else if err == nil {
			lastErr = ""
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

func syncPodRoutesOnce(ctx context.Context, client kubernetes.Interface, nodeName string) error {
	list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return err
	}
	var ownCIDR string
	var others []network.NodeRoute
	for _, n := range list.Items {
		if n.Name == nodeName {
			ownCIDR = n.Spec.PodCIDR
			continue
		}
		others = append(others, network.NodeRoute{PodCIDR: n.Spec.PodCIDR, Via: internalIP(&n)})
	}
	return network.SyncRoutes(ctx, network.WantedRoutes(ownCIDR, localAddresses(), others))
}

func internalIP(n *corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	return ""
}

// localAddresses are this machine's IPs.
func localAddresses() []string {
	var out []string
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			out = append(out, n.IP.String())
		}
	}
	return out
}
