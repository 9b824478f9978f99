package containerd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	corev1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/kubelet"
)

// hostResolvConf is the node's resolver configuration, which pods with
// dnsPolicy Default use, and ClusterFirst ones while the cluster has no
// DNS Service (as upstream's kubelet without --cluster-dns).
var hostResolvConf = "/etc/resolv.conf"

// podHostname is the pod's hostname, as upstream: spec.hostname or the
// pod name, at most 63 characters.
func podHostname(pod *corev1.Pod) string {
	h := pod.Name
	if pod.Spec.Hostname != "" {
		h = pod.Spec.Hostname
	}
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}

// hostsFile is the pod's /etc/hosts as upstream's kubelet writes it.
func hostsFile(pod *corev1.Pod, ips []string) string {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file.\n")
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
	host := podHostname(pod)
	names := host
	if pod.Spec.Subdomain != "" {
		names = fmt.Sprintf("%s.%s.%s.svc.cluster.local\t%s", host, pod.Spec.Subdomain, pod.Namespace, host)
	}
	for _, ip := range ips {
		fmt.Fprintf(&b, "%s\t%s\n", ip, names)
	}
	if len(pod.Spec.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range pod.Spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
		}
	}
	return b.String()
}

// resolvConf is the pod's /etc/resolv.conf, as upstream's kubelet writes
// it: for dnsPolicy ClusterFirst (ClusterFirstWithHostNet on the host
// network) the cluster DNS with the pod's search list and ndots:5, then
// the node's search domains; the node's own for Default (and for
// ClusterFirst when the cluster has no DNS); nothing but dnsConfig for
// None; dnsConfig merged in as upstream merges it.
func resolvConf(pod *corev1.Pod, cluster kubelet.ClusterDNS) (string, error) {
	var servers, searches, options []string
	if pod.Spec.DNSPolicy != corev1.DNSNone {
		data, err := os.ReadFile(hostResolvConf)
		if err != nil && !os.IsNotExist(err) {
			return "", err
		}
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
				continue
			}
			switch f[0] {
			case "nameserver":
				servers = append(servers, f[1])
			case "search", "domain":
				searches = append(searches, f[1:]...)
			case "options":
				options = append(options, f[1:]...)
			}
		}
	}
	if usesClusterDNS(pod) && len(cluster.Servers) > 0 {
		d := cluster.Domain
		servers = cluster.Servers
		searches = append([]string{pod.Namespace + ".svc." + d, "svc." + d, d}, searches...)
		options = []string{"ndots:5"}
	}
	if cfg := pod.Spec.DNSConfig; cfg != nil {
		servers = append(servers, cfg.Nameservers...)
		searches = append(searches, cfg.Searches...)
		for _, o := range cfg.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			// A dnsConfig option replaces the node's of the same name.
			options = dropOption(options, o.Name)
			options = append(options, opt)
		}
	}
	var b strings.Builder
	// resolv.conf takes three nameservers and 32 search domains.
	servers = unique(servers)
	for _, s := range servers[:min(3, len(servers))] {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if s := unique(searches); len(s) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(s[:min(32, len(s))], " "))
	}
	if o := unique(options); len(o) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(o, " "))
	}
	return b.String(), nil
}

// usesClusterDNS says whether the pod's DNS policy asks for the cluster's
// DNS.
func usesClusterDNS(pod *corev1.Pod) bool {
	switch pod.Spec.DNSPolicy {
	case corev1.DNSClusterFirstWithHostNet:
		return true
	case corev1.DNSClusterFirst, "":
		return !pod.Spec.HostNetwork
	}
	return false
}

func dropOption(opts []string, name string) []string {
	out := opts[:0:0]
	for _, o := range opts {
		if n, _, _ := strings.Cut(o, ":"); n != name {
			out = append(out, o)
		}
	}
	return out
}

func unique(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// etcMounts writes the pod's hosts, hostname and resolv.conf into its
// directory and returns the bind mounts that put them in a container.
func (r *Runtime) etcMounts(pod *corev1.Pod, ips []string, cluster kubelet.ClusterDNS) ([]specs.Mount, error) {
	dir := r.podDir(pod.UID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	resolv, err := resolvConf(pod, cluster)
	if err != nil {
		return nil, err
	}
	files := map[string]string{
		"hosts":       hostsFile(pod, ips),
		"hostname":    podHostname(pod) + "\n",
		"resolv.conf": resolv,
	}
	var mounts []specs.Mount
	for _, name := range []string{"hosts", "hostname", "resolv.conf"} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(files[name]), 0o644); err != nil {
			return nil, err
		}
		mounts = append(mounts, specs.Mount{Destination: "/etc/" + name, Type: "bind", Source: path, Options: []string{"rbind", "rprivate", "rw"}})
	}
	return mounts, nil
}

// resolvMount writes a host-network pod's resolv.conf (for
// ClusterFirstWithHostNet) and returns its bind mount.
func (r *Runtime) resolvMount(pod *corev1.Pod, cluster kubelet.ClusterDNS) (specs.Mount, error) {
	dir := r.podDir(pod.UID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return specs.Mount{}, err
	}
	resolv, err := resolvConf(pod, cluster)
	if err != nil {
		return specs.Mount{}, err
	}
	path := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(path, []byte(resolv), 0o644); err != nil {
		return specs.Mount{}, err
	}
	return specs.Mount{Destination: "/etc/resolv.conf", Type: "bind", Source: path, Options: []string{"rbind", "rprivate", "rw"}}, nil
}
