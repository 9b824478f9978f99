package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/skiffhq/skiff/apiserver/certs"
	"github.com/skiffhq/skiff/kubelet"
	"github.com/skiffhq/skiff/kubelet/containerd"
	kubeletserver "github.com/skiffhq/skiff/kubelet/server"
	"github.com/skiffhq/skiff/kubelet/sim"
)

// Runtimes the local node agent can use (--runtime).
const (
	RuntimeContainerd = "containerd"
	RuntimeSim        = "sim"
)

// agentHint names the flags that run skiff without a local containerd.
const agentHint = "use --runtime sim to simulate the local node, or --disable-agent to run the control plane alone"

// ImagesDir holds image tarballs that the node agent imports into
// containerd when it starts (as k3s's agent/images directory).
func ImagesDir(dataDir string) string { return filepath.Join(dataDir, "images") }

// localNode prepares the node this machine is: its runtime (started
// containerd included) and what it reports. The returned function runs
// what must keep running (containerd's supervisor) until ctx ends.
func (o *Options) localNode(ctx context.Context, dataDir string) (kubelet.NodeConfig, func(context.Context) error, error) {
	name := o.NodeName
	if name == "" {
		h, err := os.Hostname()
		if err != nil {
			return kubelet.NodeConfig{}, nil, fmt.Errorf("naming the local node (--node-name): %w", err)
		}
		name = strings.ToLower(h)
	}
	n := kubelet.NodeConfig{Name: name, Capacity: machineCapacity(dataDir), Addresses: nodeAddresses(name), NodeInfo: machineInfo()}
	if o.Runtime == RuntimeSim {
		n.Runtime, n.Simulated = sim.New(clock.RealClock{}), true
		return n, nil, nil
	}
	if os.Geteuid() != 0 {
		return n, nil, fmt.Errorf("the containerd runtime needs root; %s", agentHint)
	}
	run := func(context.Context) error { return nil }
	address := strings.TrimPrefix(o.ContainerRuntimeEndpoint, "unix://")
	if address == "" {
		sup := &containerd.Supervisor{Dir: ContainerdDir(dataDir)}
		address = sup.Address()
		done := make(chan error, 1)
		supCtx, stop := context.WithCancel(ctx)
		go func() { done <- sup.Run(supCtx) }()
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := sup.WaitReady(wctx)
		cancel()
		if err != nil {
			stop()
			if runErr := <-done; runErr != nil {
				return n, nil, fmt.Errorf("%w; %s", runErr, agentHint)
			}
			return n, nil, fmt.Errorf("containerd did not start (see %s): %w", filepath.Join(ContainerdDir(dataDir), "containerd.log"), err)
		}
		run = func(ctx context.Context) error {
			<-ctx.Done()
			stop()
			return <-done
		}
	}
	n.KubeletPort = int32(o.KubeletPort)
	rt, err := containerd.New(ctx, containerd.Config{Address: address, StateDir: filepath.Join(dataDir, "agent"), Bridge: o.PodBridge})
	if err != nil {
		return n, nil, fmt.Errorf("%w; %s", err, agentHint)
	}
	importImages(ctx, address, ImagesDir(dataDir))
	n.Runtime = rt
	return n, run, nil
}

// importImages loads the tarballs of dir into containerd, logging what
// fails: a bad tarball must not keep the node from starting.
func importImages(ctx context.Context, address, dir string) {
	logger := klog.FromContext(ctx)
	files, _ := filepath.Glob(filepath.Join(dir, "*.tar"))
	if len(files) == 0 {
		return
	}
	c, cctx, err := containerd.Connect(ctx, address)
	if err != nil {
		logger.Error(err, "importing images")
		return
	}
	defer c.Close()
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			logger.Error(err, "importing images", "file", f)
			continue
		}
		names, err := containerd.Import(cctx, c, r)
		r.Close()
		if err != nil {
			logger.Error(err, "importing images", "file", f)
			continue
		}
		logger.Info("imported images", "file", f, "images", names)
	}
}

// machineCapacity is this machine's CPU, memory and disk, and the
// upstream default of 110 pods.
func machineCapacity(dataDir string) corev1.ResourceList {
	rl := corev1.ResourceList{
		corev1.ResourceCPU:  *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI),
		corev1.ResourcePods: *resource.NewQuantity(110, resource.DecimalSI),
	}
	if kb := meminfo("MemTotal"); kb > 0 {
		rl[corev1.ResourceMemory] = *resource.NewQuantity(kb*1024, resource.BinarySI)
	}
	var fs unix.Statfs_t
	if unix.Statfs(dataDir, &fs) == nil {
		rl[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(int64(fs.Blocks)*fs.Bsize, resource.BinarySI)
	}
	return rl
}

func meminfo(key string) int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == key+":" {
			var kb int64
			fmt.Sscan(fields[1], &kb)
			return kb
		}
	}
	return 0
}

// machineInfo fills what nodeInfo says of the machine.
func machineInfo() corev1.NodeSystemInfo {
	info := corev1.NodeSystemInfo{KernelVersion: kernelVersion(), OSImage: osImage()}
	if b, err := os.ReadFile("/etc/machine-id"); err == nil {
		info.MachineID = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/sys/class/dmi/id/product_uuid"); err == nil {
		info.SystemUUID = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		info.BootID = strings.TrimSpace(string(b))
	}
	return info
}

func osImage() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return runtime.GOOS
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return runtime.GOOS
}

// nodeAddresses are the machine's first global IPv4 address (that of the
// default route's interface when there is one) and its hostname.
func nodeAddresses(hostname string) []corev1.NodeAddress {
	addrs := []corev1.NodeAddress{}
	if ip, err := primaryIP(); err == nil {
		addrs = append(addrs, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip.String()})
	}
	return append(addrs, corev1.NodeAddress{Type: corev1.NodeHostName, Address: hostname})
}

func primaryIP() (net.IP, error) {
	// The source address the kernel would use towards a public address;
	// nothing is sent.
	if conn, err := net.Dial("udp4", "192.0.2.1:9"); err == nil {
		defer conn.Close()
		if a, ok := conn.LocalAddr().(*net.UDPAddr); ok && !a.IP.IsLoopback() {
			return a.IP, nil
		}
	}
	ifaces, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	for _, a := range ifaces {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP, nil
		}
	}
	return nil, errors.New("no global IPv4 address")
}

// agentServer prepares the HTTPS server (logs, exec, attach,
// port-forward) of the server's own node: its serving certificate comes
// from the cluster CA on disk. Nil for nodes that serve nothing.
func agentServer(cfg *rest.Config, dataDir string, host *kubelet.Host, n kubelet.NodeConfig, rootCA []byte) (func(context.Context, string) error, error) {
	if _, ok := n.Runtime.(kubelet.Streamer); !ok || n.KubeletPort == 0 {
		return nil, nil
	}
	pki := certs.PKI{Dir: filepath.Join(dataDir, "pki")}
	ca, err := certs.LoadCA(pki.CACert(), pki.CAKey())
	if err != nil {
		return nil, fmt.Errorf("node agent: %w", err)
	}
	hosts := []string{n.Name, "localhost"}
	ips := []net.IP{net.ParseIP("127.0.0.1")}
	for _, a := range n.Addresses {
		if ip := net.ParseIP(a.Address); ip != nil {
			ips = append(ips, ip)
		} else {
			hosts = append(hosts, a.Address)
		}
	}
	certPEM, keyPEM, err := ca.IssuePEM(pkix.Name{CommonName: "system:node:" + n.Name, Organization: []string{"system:nodes"}}, hosts, ips, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return nil, fmt.Errorf("node agent: issuing its serving certificate: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("node agent: %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return nodeServer(client, host, n, rootCA, pair)
}

// nodeServer is a node's HTTPS server with the serving certificate pair,
// authenticating and authorizing through the API server, as upstream's
// kubelet in webhook mode. Nil for nodes that serve nothing.
func nodeServer(client kubernetes.Interface, host *kubelet.Host, n kubelet.NodeConfig, clientCA []byte, pair tls.Certificate) (func(context.Context, string) error, error) {
	streamer, ok := n.Runtime.(kubelet.Streamer)
	if !ok || n.KubeletPort == 0 {
		return nil, nil
	}
	scfg := kubeletserver.Config{
		NodeName: n.Name,
		Pod:      func(ns, name string) (*corev1.Pod, error) { return host.Pod(n.Name, ns, name) },
		Pods:     func() []*corev1.Pod { return host.PodsOn(n.Name) },
		Streamer: streamer,
	}
	if err := kubeletserver.DelegatingAuth(&scfg, client, clientCA); err != nil {
		return nil, err
	}
	srv, err := kubeletserver.New(scfg)
	if err != nil {
		return nil, err
	}
	// Client certificates are asked for and verified by the authenticator.
	tc := &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12}
	return func(ctx context.Context, addr string) error { return srv.Serve(ctx, addr, tc) }, nil
}
