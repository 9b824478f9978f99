package containerd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/kubelet"
)

func TestHostsFile(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "ns"},
		Spec: corev1.PodSpec{Hostname: "web-0", Subdomain: "web", HostAliases: []corev1.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"foo", "bar"}}}}}
	got := hostsFile(pod, []string{"10.244.0.5"})
	for _, want := range []string{"127.0.0.1\tlocalhost\n", "10.244.0.5\tweb-0.web.ns.svc.cluster.local\tweb-0\n", "10.1.2.3\tfoo\tbar\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("hosts file lacks %q:\n%s", want, got)
		}
	}
}

func TestResolvConf(t *testing.T) {
	dir := t.TempDir()
	hostResolvConf = filepath.Join(dir, "resolv.conf")
	defer func() { hostResolvConf = "/etc/resolv.conf" }()
	if err := os.WriteFile(hostResolvConf, []byte("# comment\nnameserver 10.0.0.53\nsearch corp.example\noptions ndots:1 timeout:2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	two := "2"
	cluster := kubelet.ClusterDNS{Servers: []string{"10.96.0.10"}, Domain: "cluster.local"}
	for _, tc := range []struct {
		policy  corev1.DNSPolicy
		host    bool
		cluster kubelet.ClusterDNS
		cfg     *corev1.PodDNSConfig
		want    string
	}{
		{corev1.DNSDefault, false, cluster, nil, "nameserver 10.0.0.53\nsearch corp.example\noptions ndots:1 timeout:2\n"},
		// No cluster DNS: the node's, with dnsConfig merged.
		{corev1.DNSClusterFirst, false, kubelet.ClusterDNS{}, &corev1.PodDNSConfig{Searches: []string{"extra.example"}, Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &two}}},
			"nameserver 10.0.0.53\nsearch corp.example extra.example\noptions timeout:2 ndots:2\n"},
		{corev1.DNSClusterFirst, false, cluster, nil,
			"nameserver 10.96.0.10\nsearch ns.svc.cluster.local svc.cluster.local cluster.local corp.example\noptions ndots:5\n"},
		{corev1.DNSClusterFirst, false, cluster, &corev1.PodDNSConfig{Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &two}, {Name: "edns0"}}},
			"nameserver 10.96.0.10\nsearch ns.svc.cluster.local svc.cluster.local cluster.local corp.example\noptions ndots:2 edns0\n"},
		// On the host network ClusterFirst means the node's; ClusterFirstWithHostNet the cluster's.
		{corev1.DNSClusterFirst, true, cluster, nil, "nameserver 10.0.0.53\nsearch corp.example\noptions ndots:1 timeout:2\n"},
		{corev1.DNSClusterFirstWithHostNet, true, cluster, nil,
			"nameserver 10.96.0.10\nsearch ns.svc.cluster.local svc.cluster.local cluster.local corp.example\noptions ndots:5\n"},
		{corev1.DNSNone, false, cluster, &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1"}}, "nameserver 1.1.1.1\n"},
	} {
		got, err := resolvConf(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"},
			Spec: corev1.PodSpec{DNSPolicy: tc.policy, DNSConfig: tc.cfg, HostNetwork: tc.host}}, tc.cluster)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q (%v), want %q", tc.policy, got, err, tc.want)
		}
	}
}
