package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/containernetworking/cni/libcni"
	current "github.com/containernetworking/cni/pkg/types/100"
)

// PluginDirs are where Debian and upstream install the CNI plugins.
var PluginDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

// DefaultBridge is the name of the node's pod bridge.
const DefaultBridge = "skiff0"

// CNI sets up and tears down pods' networks.
type CNI struct {
	cni      *libcni.CNIConfig
	loopback *libcni.NetworkConfigList
	// pods is the bridge alone; withPorts adds portmap, run only for pods
	// with hostPorts (a plugin less to execute for the others). Both are
	// the one network "skiff", so host-local hands out from one pool.
	pods, withPorts *libcni.NetworkConfigList
}

// Pod names a pod's network attachment.
type Pod struct {
	// ID identifies the attachment (the pod UID); NetNS is its namespace.
	ID, NetNS       string
	Namespace, Name string
	// HostPorts are the pod's containers' hostPort mappings.
	HostPorts []PortMapping
}

// PortMapping is a hostPort as the portmap plugin takes it.
type PortMapping struct {
	HostPort      int32  `json:"hostPort"`
	ContainerPort int32  `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

// NewCNI configures the pod network on podCIDR (the node's range, its
// first address the bridge's) with the bridge of that name (DefaultBridge
// when empty), keeping host-local's allocations and libcni's cache under
// stateDir.
func NewCNI(podCIDR, bridge, stateDir string) (*CNI, error) {
	if bridge == "" {
		bridge = DefaultBridge
	}
	if _, _, err := net.ParseCIDR(podCIDR); err != nil {
		return nil, fmt.Errorf("podCIDR %q: %w", podCIDR, err)
	}
	var dirs []string
	for _, d := range PluginDirs {
		if _, err := os.Stat(filepath.Join(d, "bridge")); err == nil {
			dirs = append(dirs, d)
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("no CNI plugins in %v (install containernetworking-plugins: hack/install-deps.sh)", PluginDirs)
	}
	lo, err := libcni.ConfListFromBytes([]byte(`{"cniVersion":"1.0.0","name":"skiff-lo","plugins":[{"type":"loopback"}]}`))
	if err != nil {
		return nil, err
	}
	// Egress masquerade is one nftables rule per node (SyncMasquerade), not
	// the plugin's ipMasq, which runs iptables several times per pod.
	bridgePlugin := map[string]any{
		"type": "bridge", "bridge": bridge, "isGateway": true, "hairpinMode": true,
		"ipam": map[string]any{
			"type":    "host-local",
			"ranges":  [][]map[string]string{{{"subnet": podCIDR}}},
			"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
			"dataDir": filepath.Join(stateDir, "ipam"),
		},
	}
	portmap := map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}}
	pods, err := confList(bridgePlugin)
	if err != nil {
		return nil, err
	}
	withPorts, err := confList(bridgePlugin, portmap)
	if err != nil {
		return nil, err
	}
	return &CNI{cni: libcni.NewCNIConfigWithCacheDir(dirs, filepath.Join(stateDir, "cache"), nil), loopback: lo, pods: pods, withPorts: withPorts}, nil
}

func confList(plugins ...any) (*libcni.NetworkConfigList, error) {
	conf, err := json.Marshal(map[string]any{"cniVersion": "1.0.0", "name": "skiff", "plugins": plugins})
	if err != nil {
		return nil, err
	}
	return libcni.ConfListFromBytes(conf)
}

// list is the configuration p is attached with.
func (c *CNI) list(p Pod) *libcni.NetworkConfigList {
	if len(p.HostPorts) > 0 {
		return c.withPorts
	}
	return c.pods
}
func (c *CNI) runtimeConf(p Pod, ifName string) *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{
		ContainerID: p.ID, NetNS: p.NetNS, IfName: ifName,
		Args: [][2]string{{"IgnoreUnknown", "1"}, {"K8S_POD_NAMESPACE", p.Namespace}, {"K8S_POD_NAME", p.Name}, {"K8S_POD_INFRA_CONTAINER_ID", p.ID}},
	}
	if len(p.HostPorts) > 0 {
		rt.CapabilityArgs = map[string]any{"portMappings": p.HostPorts}
	}
	return rt
}

// Setup attaches the pod's namespace and returns its IPs.
func (c *CNI) Setup(ctx context.Context, p Pod) ([]string, error) {
	if _, err := c.cni.AddNetworkList(ctx, c.loopback, c.runtimeConf(p, "lo")); err != nil {
		return nil, fmt.Errorf("cni loopback: %w", err)
	}
	res, err := c.cni.AddNetworkList(ctx, c.list(p), c.runtimeConf(p, "eth0"))
	if err != nil {
		return nil, fmt.Errorf("cni bridge: %w", err)
	}
	r, err := current.NewResultFromResult(res)
	if err != nil {
		return nil, fmt.Errorf("cni result: %w", err)
	}
	var ips []string
	for _, ip := range r.IPs {
		ips = append(ips, ip.Address.IP.String())
	}
	if len(ips) == 0 {
		return nil, errors.New("cni bridge: no IP assigned")
	}
	return ips, nil
}

// Teardown releases the pod's addresses and host ports; tearing down what
// is already gone is not an error.
func (c *CNI) Teardown(ctx context.Context, p Pod) error {
	if err := c.cni.DelNetworkList(ctx, c.list(p), c.runtimeConf(p, "eth0")); err != nil {
		return fmt.Errorf("cni teardown: %w", err)
	}
	return nil
}
