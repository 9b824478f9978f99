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
