package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/skiffhq/skiff/apiserver"
	"github.com/skiffhq/skiff/apiserver/certs"
	"github.com/skiffhq/skiff/apiserver/etcd"
	"github.com/skiffhq/skiff/kubelet/network"
	"github.com/skiffhq/skiff/server/pageout"
)

// Options are the flags of `skiff server`.
type Options struct {
	// DataDir holds all state (--data-dir).
	DataDir string
	// BindAddress and SecurePort are where the API is served.
	BindAddress string
	SecurePort  int
	// ServiceClusterIPRange is the CIDR of cluster IPs.
	ServiceClusterIPRange string
	// Listener, when set, replaces binding BindAddress:SecurePort (tests).
	Listener net.Listener
	// UnsafeNoFsync makes etcd skip fsync (tests only).
	UnsafeNoFsync bool
	// Ready, when set, is closed once the server answers /readyz.
	Ready chan<- struct{}

	// ClusterCIDR is the range node podCIDRs are carved from.
	ClusterCIDR string
	// NodeMonitorGracePeriod is how long a node may miss heartbeats
	// before it is marked NotReady.
	NodeMonitorGracePeriod time.Duration
	// SimNodes is the number of simulated nodes to run (sim-0 …).
	SimNodes int
	// SimNodeCapacity is each simulated node's capacity.
	SimNodeCPU, SimNodeMemory string
	SimNodePods               int

	// DisableAgent runs the control plane without a node on this machine.
	DisableAgent bool
	// Runtime runs the local node's pods: "containerd" or "sim".
	Runtime string
	// ContainerRuntimeEndpoint names a running containerd to use instead
	// of starting one.
	ContainerRuntimeEndpoint string
	// NodeName names the local node (default: the hostname).
	NodeName string
	// PodBridge names the local node's pod bridge.
	PodBridge string
	// KubeletPort is where the local node's agent serves logs, exec,
	// attach and port-forward (HTTPS, all addresses).
	KubeletPort int
	// ClusterDNSPort is where the local node's agent serves cluster DNS,
	// on the node's address (0: it does not).
	ClusterDNSPort int
	// Profiling serves /debug/pprof on the API (kube-apiserver's --profiling).
	Profiling bool
	// NodePortAddresses are the CIDRs whose local addresses answer node
	// ports (default: the node's InternalIP, as kube-proxy's "primary").
	NodePortAddresses []string
	// AdmissionConfigFile is kube-apiserver's AdmissionConfiguration
	// (--admission-control-config-file).
	AdmissionConfigFile string
	// Audit is kube-apiserver's audit policy and backends
	// (--audit-policy-file, --audit-log-path, ...).
	Audit *genericoptions.AuditOptions
}

// NewOptions returns the defaults of `skiff server`.
func NewOptions() *Options {
	return &Options{DataDir: ".skiff", BindAddress: "127.0.0.1", SecurePort: 6443, ServiceClusterIPRange: "10.96.0.0/12",
		ClusterCIDR: "10.244.0.0/16", NodeMonitorGracePeriod: 40 * time.Second,
		SimNodeCPU: "8", SimNodeMemory: "32Gi", SimNodePods: 110, Runtime: RuntimeContainerd, PodBridge: network.DefaultBridge,
		KubeletPort: 10250, ClusterDNSPort: 53, Profiling: true, Audit: genericoptions.NewAuditOptions()}
}

// Paths of the files in the data directory that users and agents read.
func KubeconfigPath(dataDir string) string { return filepath.Join(dataDir, "kubeconfig") }

// ContainerdDir holds the private containerd's config, images and socket.
func ContainerdDir(dataDir string) string { return filepath.Join(dataDir, "containerd") }

// TokenPath is the agent join token.
func TokenPath(dataDir string) string { return filepath.Join(dataDir, "token") }

// Validate checks the options, naming the flag at fault.
func (o *Options) Validate() error {
	var errs []error
	if o.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	}
	if net.ParseIP(o.BindAddress) == nil {
		errs = append(errs, fmt.Errorf("--bind-address %q is not an IP address", o.BindAddress))
	}
	if o.Listener == nil && (o.SecurePort <= 0 || o.SecurePort > 65535) {
		errs = append(errs, fmt.Errorf("--secure-port %d is not a port between 1 and 65535", o.SecurePort))
	}
	if _, _, err := net.ParseCIDR(o.ServiceClusterIPRange); err != nil {
		errs = append(errs, fmt.Errorf("--service-cluster-ip-range %q: %w", o.ServiceClusterIPRange, err))
	}
	if _, cidr, err := net.ParseCIDR(o.ClusterCIDR); err != nil {
		errs = append(errs, fmt.Errorf("--cluster-cidr %q: %w", o.ClusterCIDR, err))
	} else if ones, bits := cidr.Mask.Size(); bits-ones < 8 || ones > 24 {
		errs = append(errs, fmt.Errorf("--cluster-cidr %q: must be a /24 or larger, each node gets a /24 of it", o.ClusterCIDR))
	} else if nodes, room := o.SimNodes+o.localNodes(), 1<<(24-ones); o.SimNodes > 0 && nodes > room {
		// A node without a podCIDR cannot give its pods addresses: they
		// would wait in ContainerCreating.
		errs = append(errs, fmt.Errorf("--cluster-cidr %q has room for %d nodes (a /24 each), fewer than the %d of --sim-nodes and this machine: give a larger range, such as 10.128.0.0/12", o.ClusterCIDR, room, nodes))
	}
	if o.NodeMonitorGracePeriod <= 0 {
		errs = append(errs, fmt.Errorf("--node-monitor-grace-period %s must be positive", o.NodeMonitorGracePeriod))
	}
	if o.SimNodes < 0 || o.SimNodes > 5000 {
		errs = append(errs, fmt.Errorf("--sim-nodes %d must be between 0 and 5000", o.SimNodes))
	}
	if _, err := o.simCapacity(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, o.validateNode())
	return errors.Join(errs...)
}

// localNodes is 1 when this machine is a node of the server, else 0.
func (o *Options) localNodes() int {
	if o.DisableAgent {
		return 0
	}
	return 1
}

// validateNode checks the flags of the node agent (of skiff server and
// skiff agent), naming the flag at fault.
func (o *Options) validateNode() error {
	var errs []error
	if l := len(o.PodBridge); l == 0 || l > 15 {
		errs = append(errs, fmt.Errorf("--pod-bridge %q: a network interface name of 1 to 15 characters", o.PodBridge))
	}
	if o.KubeletPort < 1 || o.KubeletPort > 65535 {
		errs = append(errs, fmt.Errorf("--kubelet-port %d must be between 1 and 65535", o.KubeletPort))
	}
	if o.ClusterDNSPort < 0 || o.ClusterDNSPort > 65535 {
		errs = append(errs, fmt.Errorf("--cluster-dns-port %d must be between 0 (no DNS) and 65535", o.ClusterDNSPort))
	}
	for _, c := range o.NodePortAddresses {
		if _, err := netip.ParsePrefix(c); err != nil {
			errs = append(errs, fmt.Errorf("--nodeport-addresses: %q is not a CIDR", c))
		}
	}
	if o.Runtime != RuntimeContainerd && o.Runtime != RuntimeSim {
		errs = append(errs, fmt.Errorf("--runtime %q: must be %s or %s", o.Runtime, RuntimeContainerd, RuntimeSim))
	}
	return errors.Join(errs...)
}

// preflight checks what the local node agent needs before anything starts.
func (o *Options) preflight() error {
	if o.DisableAgent || o.Runtime != RuntimeContainerd {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("the containerd runtime needs root; %s", agentHint)
	}
	if o.ContainerRuntimeEndpoint == "" {
		if _, err := exec.LookPath("containerd"); err != nil {
			return fmt.Errorf("containerd is not installed (hack/install-deps.sh installs it; --container-runtime-endpoint names a running one); %s", agentHint)
		}
	}
	return nil
}

// Run starts everything and serves until ctx ends.
func (o *Options) Run(ctx context.Context) error {
	if err := o.Validate(); err != nil {
		return err
	}
	if err := o.preflight(); err != nil {
		return err
	}
	logger := klog.FromContext(ctx)
	start := time.Now()
	dataDir, lock, err := openDataDir(ctx, o.DataDir)
	if err != nil {
		return err
	}
	defer lock.Close()
	pki := certs.PKI{Dir: filepath.Join(dataDir, "pki")}
	bind := net.ParseIP(o.BindAddress)
	hosts, ips := servingNames(bind)
	if _, err := pki.Ensure(hosts, ips); err != nil {
		return err
	}
	tokenFile, err := ensureToken(dataDir, pki.Dir)
	if err != nil {
		return err
	}
	joinTokenBytes, err := os.ReadFile(TokenPath(dataDir))
	if err != nil {
		return err
	}
	joinToken := strings.TrimSpace(string(joinTokenBytes))

	logger.V(2).Info("PKI ready", "elapsed", time.Since(start))
	etcdServer, err := etcd.Start(ctx, etcd.Config{DataDir: filepath.Join(dataDir, "etcd"), UnsafeNoFsync: o.UnsafeNoFsync})
	if err != nil {
		return err
	}
	defer etcdServer.Close()
	logger.V(2).Info("etcd ready", "elapsed", time.Since(start))

	_, serviceRange, _ := net.ParseCIDR(o.ServiceClusterIPRange)
	cfg, err := apiserver.Config{
		BindAddress:                  bind,
		SecurePort:                   o.SecurePort,
		Listener:                     o.Listener,
		ServingCertFile:              pki.ServingCert(),
		ServingKeyFile:               pki.ServingKey(),
		ClientCAFile:                 pki.CACert(),
		KubeletClientCertFile:        pki.KubeletClientCert(),
		KubeletClientKeyFile:         pki.KubeletClientKey(),
		KubeletCAFile:                pki.CACert(),
		JoinToken:                    joinToken,
		ClusterSigningCertFile:       pki.CACert(),
		ClusterSigningKeyFile:        pki.CAKey(),
		TokenAuthFile:                tokenFile,
		ServiceAccountSigningKeyFile: pki.ServiceAccountKey(),
		EtcdServers:                  etcdServer.Endpoints(),
		ServiceClusterIPRange:        serviceRange,
		DisableProfiling:             !o.Profiling,
		Audit:                        o.Audit,
		AdmissionConfigFile:          o.AdmissionConfigFile,
	}.Complete()
	if err != nil {
		return err
	}
	srv, err := cfg.New()
	if err != nil {
		return err
	}
	logger.V(2).Info("API server built", "elapsed", time.Since(start))
	kubeconfig := KubeconfigPath(dataDir)
	if err := certs.WriteKubeconfig(kubeconfig, o.serverURL(), pki.CACert(), pki.AdminCert(), pki.AdminKey()); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errCh := make(chan error, 1)
	go func() { errCh <- srv.Run(ctx) }()
	go func() {
		if err := waitReady(ctx, kubeconfig); err != nil {
			return
		}
		logger.Info("skiff is ready", "took", time.Since(start).Round(time.Millisecond), "kubeconfig", kubeconfig)
		// Start-up leaves garbage (OpenAPI building, informer lists);
		// return it to the OS now rather than over the next minutes.
		debug.FreeOSMemory()
		// etcd read its whole backend file in with MAP_POPULATE; let the
		// kernel take back what start-up no longer needs.
		if n, err := etcdServer.ReleaseBackendPages(); err != nil {
			logger.V(2).Info("could not release etcd backend pages", "err", err)
		} else {
			logger.V(4).Info("released etcd backend pages", "bytes", n)
		}
		if o.Ready != nil {
			close(o.Ready)
		}
	}()
	go func() {
		if err := waitReady(ctx, kubeconfig); err != nil {
			return
		}
		settled := func() {
			debug.FreeOSMemory()
			if _, err := etcdServer.ReleaseBackendPages(); err != nil {
				logger.V(2).Info("could not release etcd backend pages", "err", err)
			}
			if _, err := pageout.Executable(); err != nil {
				logger.V(2).Info("could not release start-up code pages", "err", err)
			}
		}
		rootCA, err := os.ReadFile(pki.CACert())
		if err != nil {
			errCh <- fmt.Errorf("reading the cluster CA: %w", err)
			return
		}
		if err := o.runControlLoops(ctx, srv.InProcessClientConfig(), dataDir, rootCA, settled); err != nil && ctx.Err() == nil {
			errCh <- err
		}
	}()
	select {
	case err := <-errCh:
		return err
	case err := <-etcdServer.Err():
		cancel()
		<-errCh
		return fmt.Errorf("etcd failed: %w", err)
	}
}

func (o *Options) serverURL() string {
	host := o.BindAddress
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	port := o.SecurePort
	if o.Listener != nil {
		if addr, ok := o.Listener.Addr().(*net.TCPAddr); ok {
			port = addr.Port
		}
	}
	return "https://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// servingNames are the names and addresses the serving certificate covers.
func servingNames(bind net.IP) ([]string, []net.IP) {
	var hosts []string
	if h, err := os.Hostname(); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	var ips []net.IP
	if bind != nil && !bind.IsUnspecified() && !bind.IsLoopback() {
		ips = append(ips, bind)
	}
	if bind != nil && bind.IsUnspecified() {
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
					ips = append(ips, n.IP)
				}
			}
		}
	}
	return hosts, ips
}

// openDataDir makes the data directory and takes its lock (waiting up to
// 30 s for a previous process to exit); it returns the absolute path.
func openDataDir(ctx context.Context, dir string) (string, *os.File, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return "", nil, fmt.Errorf("creating --data-dir: %w", err)
	}
	lock, err := lockDataDir(ctx, abs, 30*time.Second)
	if err != nil {
		return "", nil, err
	}
	return abs, lock, nil
}

// ensureToken creates the agent join token once and the token file the
// API server authenticates it with.
func ensureToken(dataDir, pkiDir string) (string, error) {
	path := TokenPath(dataDir)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		data = []byte(hex.EncodeToString(b) + "\n")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return "", fmt.Errorf("writing the join token: %w", err)
		}
	} else if err != nil {
		return "", fmt.Errorf("reading the join token: %w", err)
	}
	token := strings.TrimSpace(string(data))
	csv := filepath.Join(pkiDir, "tokens.csv")
	line := fmt.Sprintf("%s,system:skiff:agent-join,skiff-agent-join,system:bootstrappers\n", token)
	if err := os.WriteFile(csv, []byte(line), 0o600); err != nil {
		return "", fmt.Errorf("writing the token file: %w", err)
	}
	return csv, nil
}

// waitReady polls /readyz with the admin kubeconfig until it answers ok.
func waitReady(ctx context.Context, kubeconfig string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	return wait.PollUntilContextCancel(ctx, 20*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok", nil
	})
}
