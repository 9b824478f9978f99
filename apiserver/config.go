package apiserver

import (
	"errors"
	"fmt"
	"net"
	"time"

	genericoptions "k8s.io/apiserver/pkg/server/options"
)

// Config is what the API server needs to run. Defaults are applied by
// Complete; fields are documented with the flag that sets them.
type Config struct {
	// BindAddress and SecurePort are where HTTPS is served
	// (--bind-address, --secure-port).
	BindAddress net.IP
	SecurePort  int
	// AdvertiseAddress is the address published in the kubernetes
	// Service's endpoints (--advertise-address); default: the bind address.
	AdvertiseAddress net.IP
	// Listener, when set, is used instead of binding BindAddress:SecurePort
	// (tests pass a listener on a free port).
	Listener net.Listener

	// ServingCertFile and ServingKeyFile are the TLS serving pair
	// (--tls-cert-file, --tls-private-key-file).
	ServingCertFile string
	ServingKeyFile  string
	// ClientCAFile verifies client certificates (--client-ca-file).
	ClientCAFile string
	// KubeletClientCertFile and KubeletClientKeyFile are the client
	// certificate the server presents to node agents for logs, exec,
	// attach and port-forward (--kubelet-client-certificate,
	// --kubelet-client-key); KubeletCAFile verifies the agents' serving
	// certificates (--kubelet-certificate-authority; unverified without
	// it, as upstream).
	KubeletClientCertFile string
	KubeletClientKeyFile  string
	KubeletCAFile         string
	// JoinToken, with the cluster CA's key (ClusterSigningCertFile and
	// ClusterSigningKeyFile), lets node agents join (JoinPath).
	JoinToken              string
	ClusterSigningCertFile string
	ClusterSigningKeyFile  string
	// TokenAuthFile is a kube-apiserver static token CSV
	// (token,user,uid,"group1,group2") (--token-auth-file).
	TokenAuthFile string

	// ServiceAccountSigningKeyFile signs service account tokens
	// (--service-account-signing-key-file); empty disables TokenRequest.
	ServiceAccountSigningKeyFile string
	// ServiceAccountKeyFiles verify service account tokens
	// (--service-account-key-file); default: the signing key.
	ServiceAccountKeyFiles []string
	// ServiceAccountIssuers are the accepted token issuers, the first one
	// used for new tokens (--service-account-issuer).
	ServiceAccountIssuers []string
	// APIAudiences are the audiences the API accepts tokens for
	// (--api-audiences); default: the issuers.
	APIAudiences []string
	// ServiceAccountMaxTokenExpiration caps token lifetimes
	// (--service-account-max-token-expiration; 0: no cap).
	ServiceAccountMaxTokenExpiration time.Duration

	// DisabledAdmissionPlugins turns off admission plugins by name
	// (--disable-admission-plugins); all of skiff's are on by default.
	DisabledAdmissionPlugins []string
	// AdmissionConfigFile is kube-apiserver's AdmissionConfiguration
	// (--admission-control-config-file): PodSecurity's defaults and
	// exemptions, the webhooks' kubeconfig; empty: none.
	AdmissionConfigFile string

	// Audit is kube-apiserver's audit policy and backends
	// (--audit-policy-file, --audit-log-*, --audit-webhook-*); nil or no
	// policy file: no audit events, as upstream.
	Audit *genericoptions.AuditOptions

	// AlwaysAllow authorizes every authenticated request
	// (--authorization-mode=AlwaysAllow); otherwise RBAC decides.
	AlwaysAllow bool

	// EtcdServers are etcd client URLs (--etcd-servers); unix:// sockets work.
	EtcdServers []string
	// EtcdPrefix is the key prefix of all objects (--etcd-prefix).
	EtcdPrefix string

	// ServiceClusterIPRange is the CIDR cluster IPs come from
	// (--service-cluster-ip-range).
	ServiceClusterIPRange *net.IPNet
	// ServiceNodePortRange is the range node ports come from.
	ServiceNodePortRange PortRange

	// RequestTimeout bounds non-watch requests.
	RequestTimeout time.Duration
	// DisableProfiling turns off /debug/pprof (served, as kube-apiserver's
	// --profiling, to users allowed the non-resource URL).
	DisableProfiling bool
}

// PortRange is an inclusive range of ports.
type PortRange struct {
	Base, Size int
}

// Complete applies defaults and checks the configuration.
func (c Config) Complete() (CompletedConfig, error) {
	if c.BindAddress == nil {
		c.BindAddress = net.ParseIP("127.0.0.1")
	}
	if c.SecurePort == 0 && c.Listener == nil {
		c.SecurePort = 6443
	}
	if c.EtcdPrefix == "" {
		c.EtcdPrefix = "/registry"
	}
	if c.ServiceClusterIPRange == nil {
		_, c.ServiceClusterIPRange, _ = net.ParseCIDR("10.96.0.0/12")
	}
	if c.ServiceNodePortRange.Size == 0 {
		c.ServiceNodePortRange = PortRange{Base: 30000, Size: 2768}
	}
	if len(c.ServiceAccountIssuers) == 0 {
		c.ServiceAccountIssuers = []string{"https://kubernetes.default.svc.cluster.local"}
	}
	if len(c.APIAudiences) == 0 {
		c.APIAudiences = c.ServiceAccountIssuers
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = time.Minute
	}
	if len(c.EtcdServers) == 0 {
		return CompletedConfig{}, fmt.Errorf("--etcd-servers must name at least one etcd")
	}
	if c.ServingCertFile == "" || c.ServingKeyFile == "" {
		return CompletedConfig{}, fmt.Errorf("--tls-cert-file and --tls-private-key-file are required")
	}
	if c.Audit != nil {
		if err := errors.Join(c.Audit.Validate()...); err != nil {
			return CompletedConfig{}, fmt.Errorf("audit options: %w", err)
		}
	}
	return CompletedConfig{&c}, nil
}

// CompletedConfig is a Config with defaults applied.
type CompletedConfig struct {
	*Config
}
