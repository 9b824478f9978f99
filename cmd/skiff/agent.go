package main

import (
	"os"
	"strings"

	"github.com/spf13/cobra"
	genericapiserver "k8s.io/apiserver/pkg/server"

	"github.com/skiffhq/skiff/server"
)

func newAgentCommand() *cobra.Command {
	a := server.NewAgentOptions()
	o := a.Node
	var tokenFile string
	var cleanup bool
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Join this machine as a node of a running skiff server",
		Long: `Join this machine to the cluster of a running skiff server as a node.

The agent fetches the cluster CA from --server and checks it against the join
token (the server's DATA_DIR/token) before sending the token; it then gets
client and serving certificates for keys it keeps in --data-dir, and runs the
node: it authenticates as system:node:NAME in group system:nodes.

With --cleanup (the agent stopped), it removes what the node runs from the
machine and exits; it works for the server's own node too (--data-dir of the
server).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cleanup {
				return a.Cleanup(genericapiserver.SetupSignalContext())
			}
			if tokenFile != "" {
				b, err := os.ReadFile(tokenFile)
				if err != nil {
					return err
				}
				a.Token = strings.TrimSpace(string(b))
			}
			return a.Run(genericapiserver.SetupSignalContext())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&a.Server, "server", "", "URL of the skiff server's API, e.g. https://10.0.0.1:6443")
	fs.StringVar(&a.Token, "token", "", "join token (the server's DATA_DIR/token)")
	fs.StringVar(&tokenFile, "token-file", "", "file holding the join token")
	fs.BoolVar(&cleanup, "cleanup", false, "with the agent stopped: remove its pods' containers, network namespaces, iptables rules, logs and volumes, the pod bridge and its routes, then exit")
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir, "directory for the agent's state: certificates, containerd, pod logs and volumes")
	fs.StringVar(&o.NodeName, "node-name", o.NodeName, "name of the node (default: the hostname)")
	fs.StringVar(&o.Runtime, "runtime", o.Runtime, "how the node runs pods: containerd (real containers; needs root) or sim (simulated)")
	fs.StringVar(&o.ContainerRuntimeEndpoint, "container-runtime-endpoint", o.ContainerRuntimeEndpoint, "a running containerd to use instead of starting one under --data-dir")
	fs.StringVar(&o.PodBridge, "pod-bridge", o.PodBridge, "name of the node's pod network bridge")
	fs.IntVar(&o.KubeletPort, "kubelet-port", o.KubeletPort, "HTTPS port of the node agent (logs, exec, attach, port-forward)")
	fs.IntVar(&o.ClusterDNSPort, "cluster-dns-port", o.ClusterDNSPort, "port on the node's address where the node agent serves cluster DNS, the kube-dns Service's endpoint (0: none)")
	fs.StringSliceVar(&o.NodePortAddresses, "nodeport-addresses", nil, "CIDRs whose addresses on this machine answer the node's node ports and LoadBalancer IPs (e.g. 0.0.0.0/0, or 127.0.0.0/8 for loopback too; default: the node's InternalIP)")
	return cmd
}
