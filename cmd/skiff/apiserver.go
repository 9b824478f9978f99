package main

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"

	"github.com/skiffhq/skiff/apiserver"
)

// apiserverFlags are kube-apiserver's flags that skiff apiserver honours.
type apiserverFlags struct {
	bindAddress           string
	advertiseAddress      string
	securePort            int
	certDir               string
	tlsCertFile           string
	tlsKeyFile            string
	clientCAFile          string
	tokenAuthFile         string
	etcdServers           []string
	etcdPrefix            string
	serviceClusterIPRange string
	serviceNodePortRange  string
	authorizationMode     []string
	saIssuers             []string
	saKeyFiles            []string
	saSigningKeyFile      string
	apiAudiences          []string
	saMaxExpiration       time.Duration
	disabledAdmission     []string
	admissionConfigFile   string
	kubeletClientCert     string
	kubeletClientKey      string
	kubeletCA             string
	profiling             bool
	audit                 *genericoptions.AuditOptions
}

// ignoredAPIServerFlags are accepted so that kube-apiserver command lines
// (envtest's among them) work, but change nothing in skiff yet.
var ignoredAPIServerFlags = []struct{ name, kind string }{
	{"allow-privileged", "bool"},
	{"enable-admission-plugins", "strings"},
	{"feature-gates", "string"},
	{"runtime-config", "string"},
	{"anonymous-auth", "bool"},
	{"enable-priority-and-fairness", "bool"},
	{"requestheader-client-ca-file", "string"},
	{"requestheader-allowed-names", "strings"},
	{"requestheader-extra-headers-prefix", "strings"},
	{"requestheader-group-headers", "strings"},
	{"requestheader-username-headers", "strings"},
	{"proxy-client-cert-file", "string"},
	{"proxy-client-key-file", "string"},
	{"endpoint-reconciler-type", "string"},
	{"watch-cache", "bool"},
}

func newAPIServerCommand() *cobra.Command {
	f := &apiserverFlags{audit: genericoptions.NewAuditOptions(), bindAddress: "0.0.0.0", securePort: 6443, etcdPrefix: "/registry", serviceClusterIPRange: "10.0.0.0/24", serviceNodePortRange: "30000-32767", authorizationMode: []string{"RBAC"}}
	cmd := &cobra.Command{
		Use:   "apiserver",
		Short: "Serve the Kubernetes API against an existing etcd, with kube-apiserver's flags (for envtest)",
		Long: `Serve the Kubernetes API against the etcd named by --etcd-servers.

skiff apiserver accepts kube-apiserver's command line, so that tools which
start kube-apiserver themselves (controller-runtime's envtest) can use it:
put a kube-apiserver script that runs "skiff apiserver" in KUBEBUILDER_ASSETS.
Flags marked "ignored" are accepted for compatibility and have no effect.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.config()
			if err != nil {
				return err
			}
			completed, err := cfg.Complete()
			if err != nil {
				return err
			}
			srv, err := completed.New()
			if err != nil {
				return err
			}
			return srv.Run(genericapiserver.SetupSignalContext())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.bindAddress, "bind-address", f.bindAddress, "IP address to serve HTTPS on")
	fs.IntVar(&f.securePort, "secure-port", f.securePort, "port to serve HTTPS on")
	fs.StringVar(&f.advertiseAddress, "advertise-address", "", "IP address published in the kubernetes Service's endpoints (default: the bind address, or the host's address when binding all)")
	fs.StringVar(&f.certDir, "cert-dir", "", "directory holding apiserver.crt and apiserver.key when --tls-cert-file is not given")
	fs.StringVar(&f.tlsCertFile, "tls-cert-file", "", "serving certificate")
	fs.StringVar(&f.tlsKeyFile, "tls-private-key-file", "", "serving certificate's private key")
	fs.StringVar(&f.clientCAFile, "client-ca-file", "", "CA bundle that verifies client certificates; CN is the user name, O the groups")
	fs.StringVar(&f.kubeletClientCert, "kubelet-client-certificate", "", "client certificate presented to node agents (logs, exec, attach, port-forward)")
	fs.StringVar(&f.kubeletClientKey, "kubelet-client-key", "", "private key of --kubelet-client-certificate")
	fs.StringVar(&f.kubeletCA, "kubelet-certificate-authority", "", "CA bundle that verifies node agents' serving certificates (not verified without it)")
	fs.BoolVar(&f.profiling, "profiling", true, "serve /debug/pprof (to users allowed that non-resource URL)")
	fs.StringVar(&f.tokenAuthFile, "token-auth-file", "", "static bearer tokens, CSV: token,user,uid,\"group1,group2\"")
	fs.StringSliceVar(&f.etcdServers, "etcd-servers", nil, "etcd client URLs (http://, https:// or unix://)")
	fs.StringVar(&f.etcdPrefix, "etcd-prefix", f.etcdPrefix, "prefix of all keys in etcd")
	fs.StringVar(&f.serviceClusterIPRange, "service-cluster-ip-range", f.serviceClusterIPRange, "CIDR range that Service cluster IPs are allocated from")
	fs.StringVar(&f.serviceNodePortRange, "service-node-port-range", f.serviceNodePortRange, "port range for NodePort Services")
	fs.StringSliceVar(&f.authorizationMode, "authorization-mode", f.authorizationMode, "authorizers: RBAC, Node (nodes are not yet limited to their own objects), AlwaysAllow; system:masters may always do everything")
	fs.StringSliceVar(&f.saIssuers, "service-account-issuer", nil, "issuer of service account tokens; the first signs new tokens, all are accepted (default https://kubernetes.default.svc.cluster.local)")
	fs.StringSliceVar(&f.saKeyFiles, "service-account-key-file", nil, "PEM files of keys that verify service account tokens (default: the signing key)")
	fs.StringVar(&f.saSigningKeyFile, "service-account-signing-key-file", "", "PEM private key that signs service account tokens (TokenRequest is disabled without it)")
	fs.StringSliceVar(&f.apiAudiences, "api-audiences", nil, "audiences the API accepts tokens for (default: the issuers)")
	fs.DurationVar(&f.saMaxExpiration, "service-account-max-token-expiration", 0, "longest lifetime of a requested service account token (0: no limit)")
	fs.StringSliceVar(&f.disabledAdmission, "disable-admission-plugins", nil, "admission plugins to turn off: NamespaceLifecycle is always on; TaintNodesByCondition, Priority, DefaultTolerationSeconds, DefaultStorageClass, DefaultIngressClass, MutatingAdmissionPolicy, MutatingAdmissionWebhook, ValidatingAdmissionPolicy, ValidatingAdmissionWebhook can be turned off (others are accepted and ignored)")
	fs.StringVar(&f.admissionConfigFile, "admission-control-config-file", "", "AdmissionConfiguration file (apiserver.config.k8s.io/v1) with plugins' configurations: PodSecurity's defaults and exemptions, the webhooks' kubeConfigFile")
	f.audit.AddFlags(fs)
	for _, ig := range ignoredAPIServerFlags {
		addIgnoredFlag(fs, ig.name, ig.kind)
	}
	return cmd
}

func addIgnoredFlag(fs *pflag.FlagSet, name, kind string) {
	const usage = "ignored: accepted for kube-apiserver compatibility"
	switch kind {
	case "bool":
		fs.Bool(name, false, usage)
	case "strings":
		fs.StringSlice(name, nil, usage)
	default:
		fs.String(name, "", usage)
	}
}

func (f *apiserverFlags) config() (apiserver.Config, error) {
	var cfg apiserver.Config
	cfg.DisableProfiling = !f.profiling
	cfg.BindAddress = net.ParseIP(f.bindAddress)
	if cfg.BindAddress == nil {
		return cfg, fmt.Errorf("--bind-address %q is not an IP address", f.bindAddress)
	}
	cfg.SecurePort = f.securePort
	if f.advertiseAddress != "" {
		if cfg.AdvertiseAddress = net.ParseIP(f.advertiseAddress); cfg.AdvertiseAddress == nil {
			return cfg, fmt.Errorf("--advertise-address %q is not an IP address", f.advertiseAddress)
		}
	}
	cfg.ServingCertFile, cfg.ServingKeyFile = f.tlsCertFile, f.tlsKeyFile
	if cfg.ServingCertFile == "" && f.certDir != "" {
		cfg.ServingCertFile = filepath.Join(f.certDir, "apiserver.crt")
		cfg.ServingKeyFile = filepath.Join(f.certDir, "apiserver.key")
	}
	cfg.ClientCAFile = f.clientCAFile
	cfg.KubeletClientCertFile, cfg.KubeletClientKeyFile, cfg.KubeletCAFile = f.kubeletClientCert, f.kubeletClientKey, f.kubeletCA
	cfg.ServiceAccountIssuers = f.saIssuers
	cfg.ServiceAccountKeyFiles = f.saKeyFiles
	cfg.ServiceAccountSigningKeyFile = f.saSigningKeyFile
	cfg.APIAudiences = f.apiAudiences
	cfg.ServiceAccountMaxTokenExpiration = f.saMaxExpiration
	cfg.DisabledAdmissionPlugins = f.disabledAdmission
	cfg.AdmissionConfigFile = f.admissionConfigFile
	cfg.Audit = f.audit
	cfg.TokenAuthFile = f.tokenAuthFile
	cfg.EtcdServers = f.etcdServers
	cfg.EtcdPrefix = f.etcdPrefix
	_, ipRange, err := net.ParseCIDR(f.serviceClusterIPRange)
	if err != nil {
		return cfg, fmt.Errorf("--service-cluster-ip-range: %w", err)
	}
	cfg.ServiceClusterIPRange = ipRange
	lo, hi, ok := strings.Cut(f.serviceNodePortRange, "-")
	base, err1 := strconv.Atoi(lo)
	top, err2 := strconv.Atoi(hi)
	if !ok || err1 != nil || err2 != nil || top < base {
		return cfg, fmt.Errorf("--service-node-port-range %q is not a range like 30000-32767", f.serviceNodePortRange)
	}
	cfg.ServiceNodePortRange = apiserver.PortRange{Base: base, Size: top - base + 1}
	for _, m := range f.authorizationMode {
		switch m {
		case "RBAC", "Node":
		case "AlwaysAllow":
			cfg.AlwaysAllow = true
		default:
			return cfg, fmt.Errorf("--authorization-mode %q is not supported (supported: RBAC, Node, AlwaysAllow)", m)
		}
	}
	return cfg, nil
}
