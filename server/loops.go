package server

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/skiffhq/skiff/controllers"
	"github.com/skiffhq/skiff/kubelet"
	"github.com/skiffhq/skiff/kubelet/sim"
)

// runControlLoops runs the controllers and scheduler, and the simulated
// nodes if any, against the server's own API until ctx ends.
// settled is called once the controllers' caches are filled, to return
// what filling them left behind.
func (o *Options) runControlLoops(ctx context.Context, cfg *rest.Config, dataDir string, rootCA []byte, settled func()) error {
	_, clusterCIDR, _ := net.ParseCIDR(o.ClusterCIDR)
	g, ctx := errgroup.WithContext(ctx)
	dnsIP, err := ClusterDNSIP(o.ServiceClusterIPRange)
	if err != nil {
		return err
	}
	mgr, err := controllers.New(cfg, controllers.Options{ClusterCIDR: clusterCIDR, NodeMonitorGracePeriod: o.NodeMonitorGracePeriod, RootCA: rootCA,
		ClusterDNSIP: dnsIP})
	if err != nil {
		return fmt.Errorf("controllers: %w", err)
	}
	g.Go(func() error {
		if err := mgr.Start(ctx); err != nil {
			return fmt.Errorf("controllers: %w", err)
		}
		return nil
	})
	go func() {
		if mgr.GetCache().WaitForCacheSync(ctx) && settled != nil {
			// Let the first reconciles and discovery-driven watches run.
			select {
			case <-ctx.Done():
			case <-time.After(3 * time.Second):
				settled()
			}
		}
	}()
	var local []kubelet.NodeConfig
	if !o.DisableAgent {
		n, run, err := o.localNode(ctx, dataDir)
		if err != nil {
			return err
		}
		local = append(local, n)
		if run != nil {
			g.Go(func() error { return run(ctx) })
		}
	}
	if o.SimNodes > 0 || len(local) > 0 {
		// The nodes share the controllers' watch of all pods rather than
		// decoding and caching every pod a second time.
		inf, err := mgr.GetCache().GetInformer(ctx, &corev1.Pod{})
		if err != nil {
			return fmt.Errorf("node agent: %w", err)
		}
		pods, ok := inf.(toolscache.SharedIndexInformer)
		if !ok {
			return fmt.Errorf("node agent: the pod informer is a %T", inf)
		}
		host, err := o.nodeHost(cfg, pods, local, filepath.Join(dataDir, "agent", "volumes"))
		if err != nil {
			return err
		}
		for _, n := range local {
			serve, err := agentServer(cfg, dataDir, host, n, rootCA)
			if err != nil {
				return err
			}
			if serve != nil {
				g.Go(func() error { return serve(ctx, fmt.Sprintf(":%d", n.KubeletPort)) })
			}
			if !n.Simulated {
				client, err := kubernetes.NewForConfig(cfg)
				if err != nil {
					return err
				}
				g.Go(func() error { return syncPodRoutes(ctx, client, n.Name) })
				g.Go(func() error { return runProxy(ctx, client, n, o.PodBridge, o.ClusterDNSPort, o.NodePortAddresses) })
			}
		}
		g.Go(func() error {
			if err := host.Run(ctx); err != nil {
				return fmt.Errorf("node agent: %w", err)
			}
			return nil
		})
	}
	return g.Wait()
}

func (o *Options) simCapacity() (corev1.ResourceList, error) {
	cpu, err := resource.ParseQuantity(o.SimNodeCPU)
	if err != nil || cpu.Sign() <= 0 {
		return nil, fmt.Errorf("--sim-node-cpu %q is not a positive quantity", o.SimNodeCPU)
	}
	mem, err := resource.ParseQuantity(o.SimNodeMemory)
	if err != nil || mem.Sign() <= 0 {
		return nil, fmt.Errorf("--sim-node-memory %q is not a positive quantity", o.SimNodeMemory)
	}
	if o.SimNodePods <= 0 {
		return nil, fmt.Errorf("--sim-node-pods %d must be positive", o.SimNodePods)
	}
	capacity := kubelet.DefaultCapacity()
	capacity[corev1.ResourceCPU] = cpu
	capacity[corev1.ResourceMemory] = mem
	capacity[corev1.ResourcePods] = *resource.NewQuantity(int64(o.SimNodePods), resource.DecimalSI)
	return capacity, nil
}

// simHost describes the simulated nodes sim-0 … sim-N-1: each with the
// configured capacity and an address of 172.30.0.0/16.
// nodeHost runs the local node (if any) and the simulated ones.
func (o *Options) nodeHost(cfg *rest.Config, pods toolscache.SharedIndexInformer, local []kubelet.NodeConfig, volumesDir string) (*kubelet.Host, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0
	cfg.UserAgent = "kubelet"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	capacity, err := o.simCapacity()
	if err != nil {
		return nil, err
	}
	clk := clock.RealClock{}
	nodes := local
	for i := range o.SimNodes {
		name := fmt.Sprintf("sim-%d", i)
		ip := net.IPv4(172, 30, byte((i+1)>>8), byte((i+1)&0xff)).String()
		nodes = append(nodes, kubelet.NodeConfig{
			Name:      name,
			Simulated: true,
			Runtime:   sim.New(clk),
			Capacity:  capacity.DeepCopy(),
			Labels:    map[string]string{"node.kubernetes.io/instance-type": "sim", "skiff.dev/simulated": "true"},
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: ip},
				{Type: corev1.NodeHostName, Address: name},
			},
			NodeInfo: corev1.NodeSystemInfo{
				MachineID: fmt.Sprintf("%032x", i+1), SystemUUID: fmt.Sprintf("00000000-0000-0000-0000-%012x", i+1),
				BootID: fmt.Sprintf("%032x", time.Now().UnixNano()+int64(i)), KernelVersion: kernelVersion(), OSImage: "skiff simulated node",
			},
		})
	}
	return kubelet.New(kubelet.Config{Client: client, Nodes: nodes, Clock: clk, Pods: pods, VolumesDir: volumesDir})
}

// ClusterDNSIP is the kube-dns Service's address: the tenth of the
// service range (10.96.0.10 in 10.96.0.0/12), as kubeadm chooses it.
func ClusterDNSIP(serviceCIDR string) (net.IP, error) {
	prefix, err := netip.ParsePrefix(serviceCIDR)
	if err != nil {
		return nil, fmt.Errorf("--service-cluster-ip-range %q: %w", serviceCIDR, err)
	}
	addr := prefix.Masked().Addr()
	for range 10 {
		addr = addr.Next()
	}
	if !prefix.Contains(addr) {
		return nil, fmt.Errorf("--service-cluster-ip-range %q has no tenth address for the DNS Service", serviceCIDR)
	}
	return net.IP(addr.AsSlice()), nil
}
