package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/skiffhq/skiff/apiserver/certs"
	"github.com/skiffhq/skiff/kubelet"
	"github.com/skiffhq/skiff/kubelet/containerd"
	"github.com/skiffhq/skiff/kubelet/network"
	"github.com/skiffhq/skiff/server/pageout"
)

// AgentOptions configure `skiff agent`: a node that joins a running
// server.
type AgentOptions struct {
	// Server is the API server's URL; Token its join token (the server's
	// DATA_DIR/token).
	Server, Token string
	// Node are the node's settings (data dir, name, runtime, endpoint,
	// bridge, agent port), as for the server's own node.
	Node *Options
}

// Cleanup removes what the node ran from this machine, with its agent
// stopped: every pod's containers, network namespaces, IPs, iptables
// rules, logs and volumes, the pod bridge and the routes to other nodes'
// pods. The node's data dir (certificates, containerd's images) stays.
func (a *AgentOptions) Cleanup(ctx context.Context) error {
	o := a.Node
	if o.Runtime != RuntimeContainerd {
		return nil // a simulated node leaves nothing on the machine
	}
	if err := o.preflight(); err != nil {
		return err
	}
	dataDir, lock, err := openDataDir(ctx, o.DataDir)
	if err != nil {
		return err
	}
	defer lock.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n, run, err := o.localNode(ctx, dataDir)
	if err != nil {
		return err
	}
	var runErr chan error
	if run != nil {
		runErr = make(chan error, 1)
		go func() { runErr <- run(ctx) }()
	}
	var errs []error
	if rt, ok := n.Runtime.(*containerd.Runtime); ok {
		errs = append(errs, rt.RemoveAll(ctx))
		errs = append(errs, rt.Close())
	}
	errs = append(errs, kubelet.CleanupVolumes(filepath.Join(dataDir, "agent", "volumes")))
	errs = append(errs, network.SyncRoutes(ctx, nil))
	cancel()
	if runErr != nil {
		<-runErr
	}
	return errors.Join(errs...)
}

// NewAgentOptions returns the defaults of `skiff agent`.
func NewAgentOptions() *AgentOptions {
	o := NewOptions()
	o.DataDir = ".skiff-agent"
	return &AgentOptions{Node: o}
}

// Run joins the node (once; the certificates are kept in the data dir)
// and runs it until ctx ends.
func (a *AgentOptions) Run(ctx context.Context) error {
	o := a.Node
	switch {
	case a.Server == "":
		return errors.New("--server is required: the API server's URL, e.g. https://10.0.0.1:6443")
	case a.Token == "":
		return errors.New("--token is required: the join token, in the server's DATA_DIR/token")
	}
	if err := o.validateNode(); err != nil {
		return err
	}
	if err := o.preflight(); err != nil {
		return err
	}
	logger := klog.FromContext(ctx)
	dataDir, lock, err := openDataDir(ctx, o.DataDir)
	if err != nil {
		return err
	}
	defer lock.Close()

	g, ctx := errgroup.WithContext(ctx)
	n, run, err := o.localNode(ctx, dataDir)
	if err != nil {
		return err
	}
	if run != nil {
		g.Go(func() error { return run(ctx) })
	}
	pki := agentPKI{dir: filepath.Join(dataDir, "pki")}
	if !pki.joined(n.Name) {
		var hosts []string
		var ips []net.IP
		for _, addr := range n.Addresses {
			if ip := net.ParseIP(addr.Address); ip != nil {
				ips = append(ips, ip)
			} else {
				hosts = append(hosts, addr.Address)
			}
		}
		ips = append(ips, net.ParseIP("127.0.0.1"))
		if err := join(ctx, a.Server, strings.TrimSpace(a.Token), n.Name, hosts, ips, pki); err != nil {
			return err
		}
		logger.Info("joined the cluster", "server", a.Server, "node", n.Name)
	}
	kubeconfig := filepath.Join(dataDir, "kubelet.kubeconfig")
	if err := certs.WriteKubeconfig(kubeconfig, a.Server, pki.ca(), pki.clientCert(), pki.clientKey()); err != nil {
		return err
	}
	cfg := &rest.Config{Host: a.Server, UserAgent: "kubelet", QPS: 50, Burst: 100, TLSClientConfig: rest.TLSClientConfig{
		CAFile: pki.ca(), CertFile: pki.clientCert(), KeyFile: pki.clientKey()}}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	host, err := kubelet.New(kubelet.Config{Client: client, Nodes: []kubelet.NodeConfig{n}, VolumesDir: filepath.Join(dataDir, "agent", "volumes")})
	if err != nil {
		return err
	}
	g.Go(func() error {
		if err := host.Run(ctx); err != nil {
			return fmt.Errorf("node agent: %w", err)
		}
		return nil
	})
	if !n.Simulated {
		g.Go(func() error { return syncPodRoutes(ctx, client, n.Name) })
		g.Go(func() error { return runProxy(ctx, client, n, o.PodBridge, o.ClusterDNSPort, o.NodePortAddresses) })
	}
	pair, err := tls.LoadX509KeyPair(pki.servingCert(), pki.servingKey())
	if err != nil {
		return err
	}
	caPEM, err := os.ReadFile(pki.ca())
	if err != nil {
		return err
	}
	serve, err := nodeServer(client, host, n, caPEM, pair)
	if err != nil {
		return err
	}
	if serve != nil {
		g.Go(func() error { return serve(ctx, fmt.Sprintf(":%d", n.KubeletPort)) })
	}
	go func() {
		// Once started, give back what starting up touched, as the server
		// does: the heap's garbage and the binary's start-up code pages.
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
			debug.FreeOSMemory()
			if _, err := pageout.Executable(); err != nil {
				logger.V(2).Info("could not release start-up code pages", "err", err)
			}
		}
	}()
	return g.Wait()
}
