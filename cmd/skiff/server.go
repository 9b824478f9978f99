package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	genericapiserver "k8s.io/apiserver/pkg/server"

	"github.com/skiffhq/skiff/apiserver"
	"github.com/skiffhq/skiff/server"
)

func newServerCommand() *cobra.Command {
	o := server.NewOptions()
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a cluster: embedded etcd, the API server, the controllers and this machine's node in one process",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ready := make(chan struct{})
			o.Ready = ready
			go func() {
				<-ready
				kubeconfig := server.KubeconfigPath(o.DataDir)
				if abs, err := filepath.Abs(kubeconfig); err == nil {
					kubeconfig = abs
				}
				fmt.Fprintf(cmd.OutOrStdout(), "\nskiff is ready. Use it with kubectl:\n\n  export KUBECONFIG=%s\n  kubectl get namespaces\n\nor with the bundled kubectl: %s kubectl get namespaces\n\n", kubeconfig, os.Args[0])
			}()
			return o.Run(genericapiserver.SetupSignalContext())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir, "directory for all state: etcd data, certificates, the admin kubeconfig and the agent join token")
	fs.StringVar(&o.BindAddress, "bind-address", o.BindAddress, "IP address to serve the Kubernetes API on (0.0.0.0 for all interfaces)")
	fs.IntVar(&o.SecurePort, "secure-port", o.SecurePort, "port to serve the Kubernetes API on over HTTPS")
	fs.StringVar(&o.ServiceClusterIPRange, "service-cluster-ip-range", o.ServiceClusterIPRange, "CIDR range that Service cluster IPs are allocated from")
	fs.StringVar(&o.ClusterCIDR, "cluster-cidr", o.ClusterCIDR, "CIDR range of pod IPs; each node gets a /24 of it as its podCIDR")
	fs.DurationVar(&o.NodeMonitorGracePeriod, "node-monitor-grace-period", o.NodeMonitorGracePeriod, "how long a node may go without renewing its Lease before it is marked NotReady (Unknown)")
	fs.IntVar(&o.SimNodes, "sim-nodes", o.SimNodes, "number of simulated nodes to run in-process (sim-0, sim-1, …): pods bound to them run without containers")
	fs.StringVar(&o.SimNodeCPU, "sim-node-cpu", o.SimNodeCPU, "CPU capacity of each simulated node")
	fs.StringVar(&o.SimNodeMemory, "sim-node-memory", o.SimNodeMemory, "memory capacity of each simulated node")
	fs.IntVar(&o.SimNodePods, "sim-node-pods", o.SimNodePods, "pod capacity of each simulated node")
	fs.BoolVar(&o.DisableAgent, "disable-agent", o.DisableAgent, "run the control plane alone, without a node on this machine")
	fs.StringVar(&o.Runtime, "runtime", o.Runtime, "how the local node runs pods: containerd (real containers; needs root) or sim (simulated)")
	fs.StringVar(&o.ContainerRuntimeEndpoint, "container-runtime-endpoint", o.ContainerRuntimeEndpoint, "a running containerd to use (unix:///run/containerd/containerd.sock) instead of starting one under --data-dir")
	fs.StringVar(&o.NodeName, "node-name", o.NodeName, "name of the local node (default: the hostname)")
	fs.StringVar(&o.PodBridge, "pod-bridge", o.PodBridge, "name of the local node's pod network bridge")
	fs.IntVar(&o.KubeletPort, "kubelet-port", o.KubeletPort, "HTTPS port of the local node agent (logs, exec, attach, port-forward)")
	fs.BoolVar(&o.Profiling, "profiling", o.Profiling, "serve /debug/pprof on the API (CPU and heap profiles: kubectl get --raw '/debug/pprof/profile?seconds=10'), to users allowed that non-resource URL")
	fs.IntVar(&o.ClusterDNSPort, "cluster-dns-port", o.ClusterDNSPort, "port on the node's address where the local node's agent serves cluster DNS, the kube-dns Service's endpoint (0: none)")
	fs.StringSliceVar(&o.NodePortAddresses, "nodeport-addresses", nil, "CIDRs whose addresses on this machine answer the local node's node ports and LoadBalancer IPs (e.g. 0.0.0.0/0, or 127.0.0.0/8 for loopback too; default: the node's InternalIP)")
	fs.StringVar(&o.AdmissionConfigFile, "admission-control-config-file", "", "AdmissionConfiguration file (apiserver.config.k8s.io/v1) with admission plugins' configurations: PodSecurity's defaults and exemptions, the webhooks' kubeConfigFile")
	o.Audit.AddFlags(fs)
	return cmd
}

func skiffVersion() string { return apiserver.Version }

func kubeVersion() string { return apiserver.KubeVersion }
