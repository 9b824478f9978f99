package server

import (
	"strings"
	"testing"
)

// The node agent's flags are checked before anything starts, naming the
// flag at fault.
func TestValidateNodeFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Options)
		want string
	}{
		{"defaults", func(*Options) {}, ""},
		{"dns port off", func(o *Options) { o.ClusterDNSPort = 0 }, ""},
		{"dns port", func(o *Options) { o.ClusterDNSPort = 70000 }, "--cluster-dns-port 70000"},
		{"nodeport cidrs", func(o *Options) { o.NodePortAddresses = []string{"0.0.0.0/0", "127.0.0.1"} }, `--nodeport-addresses: "127.0.0.1" is not a CIDR`},
		{"bridge", func(o *Options) { o.PodBridge = "a-very-long-bridge-name" }, "--pod-bridge"},
		{"kubelet port", func(o *Options) { o.KubeletPort = 0 }, "--kubelet-port 0"},
		{"runtime", func(o *Options) { o.Runtime = "docker" }, `--runtime "docker"`},
		{"sim nodes fit the cluster cidr", func(o *Options) { o.SimNodes = 255 }, ""},
		{"sim nodes beyond the cluster cidr", func(o *Options) { o.SimNodes = 256 },
			`--cluster-cidr "10.244.0.0/16" has room for 256 nodes (a /24 each), fewer than the 257`},
		{"sim nodes without a local node", func(o *Options) { o.SimNodes, o.DisableAgent = 256, true }, ""},
		{"sim nodes in a larger cidr", func(o *Options) { o.SimNodes, o.ClusterCIDR = 1000, "10.128.0.0/12" }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := NewOptions()
			tc.set(o)
			err := o.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
}
