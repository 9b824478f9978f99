package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	"sigs.k8s.io/knftables"
)

// Config is what a node's proxy needs.
type Config struct {
	Client kubernetes.Interface
	// NodeName is the node whose endpoints count as local.
	NodeName string
	// Bridge is the pods' bridge; traffic from it comes from this node's
	// pods, which keep their address towards cluster IPs.
	Bridge string
	// Table is the nftables table (family ip) the proxy owns.
	Table string
	// NodePortIPs are the addresses that node ports (and LoadBalancer
	// ingress IPs that are the node's) answer on.
	NodePortIPs []string
	// FullSyncPeriod rewrites the whole table now and then, as a
	// safeguard (default 1 hour).
	FullSyncPeriod time.Duration
	Clock          clock.WithTicker
	// DNSAddress is where the node's cluster DNS listens ("IP:PORT"; none
	// when empty). It is published on the Node (DNSAddressAnnotation), from
	// which the kube-dns Service's endpoints are made.
	DNSAddress string
	// ClusterDomain is the cluster's DNS domain (DefaultClusterDomain).
	ClusterDomain string
	// ResolvConf names the node's resolver configuration, whose servers
	// answer names outside the cluster (default /etc/resolv.conf).
	ResolvConf string
	// OnSync, when set, is told of every applied sync: when it began
	// (reading the informers' state) and ended (the kernel holds the
	// rules), whether it rewrote the whole table, and the number of
	// Service ports. For benchmarks and metrics.
	OnSync func(start, end time.Time, full bool, ports int)
}

// DNSAddressAnnotation on a Node is where its cluster DNS listens.
const DNSAddressAnnotation = "skiff.dev/dns-address"

// Proxier keeps the node's table in step with the cluster's Services.
type Proxier struct {
	cfg     Config
	applier *applier
	trigger chan struct{}

	services   corelisters.ServiceLister
	slices     discoverylisters.EndpointSliceLister
	sliceIndex cache.Indexer
	// dirty are the Services changed since the last sync; allDirty asks
	// for every Service to be looked at again.
	dirty    map[string]bool
	allDirty bool
	recorder record.EventRecorder
	mu       sync.Mutex
	problems map[string]string // service key → the problems last reported
	// clearConntrack deletes the flows of removed UDP endpoints (a fake in
	// tests).
	clearConntrack func(staleUDP) (uint, error)
	// health serves the health check node ports.
	health *healthServers
	// cache holds the Services' fragments of the last applied sync.
	cache map[string]cachedService
	// condition is the ServiceProxyReady message last written on the
	// Node ("" when it said the rules are applied).
	condition *string
}

// ConditionServiceProxyReady is the Node condition that says whether the
// node's service rules are applied.
const ConditionServiceProxyReady corev1.NodeConditionType = "ServiceProxyReady"

// New checks that nftables can be used and returns the node's proxy.
func New(cfg Config) (*Proxier, error) {
	cfg.defaults()
	if cfg.DNSAddress != "" {
		if err := ListenAddress(cfg.DNSAddress); err != nil {
			return nil, fmt.Errorf("cluster DNS address %q: %w", cfg.DNSAddress, err)
		}
	}
	nft, err := knftables.New(knftables.IPv4Family, cfg.Table)
	if err != nil {
		return nil, fmt.Errorf("service proxy: nftables: %w", err)
	}
	p := newProxier(cfg, nft)
	p.applier.nl = newNetlinkWriter(cfg.Table)
	return p, nil
}

func (cfg *Config) defaults() {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = DefaultClusterDomain
	}
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = "/etc/resolv.conf"
	}
	if cfg.FullSyncPeriod <= 0 {
		cfg.FullSyncPeriod = time.Hour
	}
}

func newProxier(cfg Config, nft knftables.Interface) *Proxier {
	cfg.defaults()
	return &Proxier{cfg: cfg, applier: &applier{nft: nft}, trigger: make(chan struct{}, 1), problems: map[string]string{},
		clearConntrack: clearConntrack, health: newHealthServers(klog.Background().WithName("proxy"))}
}

func (p *Proxier) kick() {
	select {
	case p.trigger <- struct{}{}:
	default:
	}
}

// Run follows Services and EndpointSlices and applies their rules until
// ctx ends. The rules stay when it returns, so that traffic keeps flowing
// while the agent restarts; Cleanup removes them.
func (p *Proxier) Run(ctx context.Context) error {
	logger := klog.FromContext(ctx).WithName("proxy")
	ctx = klog.NewContext(ctx, logger)
	enableBridgeNetfilter(logger)
	if p.applier.nl != nil {
		defer p.applier.nl.close()
	}
	if err := enableLocalnet(p.cfg.NodePortIPs); err != nil {
		logger.Error(err, "node ports on loopback need route_localnet")
	}
	factory := informers.NewSharedInformerFactory(p.cfg.Client, 0)
	svcInf := factory.Core().V1().Services()
	sliceInf := factory.Discovery().V1().EndpointSlices()
	changed := func(objs ...any) {
		for _, obj := range objs {
			p.markDirty(serviceKeyOf(obj))
		}
		p.kick()
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { changed(obj) },
		UpdateFunc: func(old, obj any) { changed(old, obj) },
		DeleteFunc: func(obj any) { changed(obj) },
	}
	var handled []cache.InformerSynced
	for _, inf := range []cache.SharedIndexInformer{svcInf.Informer(), sliceInf.Informer()} {
		reg, err := inf.AddEventHandler(handler)
		if err != nil {
			return err
		}
		handled = append(handled, reg.HasSynced)
	}
	if err := sliceInf.Informer().AddIndexers(cache.Indexers{byServiceIndex: sliceServiceIndex}); err != nil {
		return err
	}
	p.services, p.slices, p.sliceIndex = svcInf.Lister(), sliceInf.Lister(), sliceInf.Informer().GetIndexer()
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: p.cfg.Client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	p.recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "skiff-proxy", Host: p.cfg.NodeName})
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	// The handlers have seen every object of the first listing: the
	// first sync covers them all, and the syncs after it only what
	// changed since.
	if !cache.WaitForCacheSync(ctx.Done(), handled...) {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("service proxy: the Service and EndpointSlice caches did not sync")
	}
	logger.Info("service proxy running", "table", p.cfg.Table)
	defer p.health.close(context.Background())
	dnsErr := make(chan error, 1)
	announced := ""
	if p.cfg.DNSAddress != "" {
		r := newResolver(p.cfg.ClusterDomain, p.services, p.slices, hostResolvers(p.cfg.ResolvConf), logger.WithName("dns"))
		l, err := r.listen(p.cfg.DNSAddress)
		if err != nil {
			// Services still work; names are answered by the other nodes.
			logger.Error(err, "cluster DNS is not served on this node; choose a free port with --cluster-dns-port")
		} else {
			go func() { dnsErr <- l.serve(ctx) }()
			logger.Info("cluster DNS serving", "address", p.cfg.DNSAddress, "domain", p.cfg.ClusterDomain, "upstream", r.upstream)
			announced = p.cfg.DNSAddress
		}
	}
	// A node that does not serve DNS (any more) is no kube-dns endpoint.
	if err := p.announceDNS(ctx, announced); err != nil {
		if ctx.Err() != nil {
			return nil // stopped before the node was there to annotate
		}
		return err
	}
	p.kick()
	full := p.cfg.Clock.NewTicker(p.cfg.FullSyncPeriod)
	defer full.Stop()
	retry := time.Duration(0)
	var retryC <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-dnsErr:
			return err
		case <-full.C():
			// Now and then, everything again: the model and the table.
			p.applier.last = nil
			p.mu.Lock()
			p.allDirty = true
			p.mu.Unlock()
		case <-p.trigger:
		case <-retryC:
		}
		if err := p.Sync(ctx); err != nil {
			retry = min(max(2*retry, 500*time.Millisecond), 30*time.Second)
			logger.Error(err, "syncing the service rules; retrying", "after", retry)
			retryC = p.cfg.Clock.After(retry)
			p.report(ctx, err.Error())
			continue
		}
		retry, retryC = 0, nil
		p.report(ctx, "")
	}
}

// Sync applies the rules of the Services as the informers hold them.
func (p *Proxier) Sync(ctx context.Context) error {
	start := p.cfg.Clock.Now()
	p.mu.Lock()
	dirty, all := p.dirty, p.allDirty || p.cache == nil
	p.dirty, p.allDirty = map[string]bool{}, false
	p.mu.Unlock()
	n := node{Name: p.cfg.NodeName, Bridge: p.cfg.Bridge, NodePortIPs: p.cfg.NodePortIPs}
	stale := staleUDP{}
	var cache map[string]cachedService
	var err error
	if all {
		cache, err = p.modelAll(n, stale)
	} else {
		cache, err = p.modelDirty(n, dirty, stale)
	}
	if err != nil {
		p.redo(dirty, all)
		return err
	}
	want := &state{frags: make(map[string]*ruleset, len(cache))}
	ports := 0
	for key, c := range cache {
		ports += c.ports
		if len(c.frag.chains) > 0 || len(c.frag.clusterIPs) > 0 {
			want.frags[key] = c.frag
		}
	}
	want.fixed = fixedRules(n)
	full := p.applier.last == nil
	if err := p.applier.apply(ctx, want); err != nil {
		p.redo(dirty, all)
		return err
	}
	p.cache = cache
	checks := map[types.NamespacedName]healthCheck{}
	for key, c := range cache {
		if c.health != nil {
			ns, name, _ := strings.Cut(key, "/")
			checks[types.NamespacedName{Namespace: ns, Name: name}] = *c.health
		}
	}
	p.health.sync(checks)
	// An endpoint still serving another Service keeps its flows.
	if len(stale) > 0 {
		for _, c := range cache {
			for ep := range c.udp {
				delete(stale, ep)
			}
		}
	}
	if n, err := p.clearConntrack(stale); err != nil {
		klog.FromContext(ctx).Error(err, "clearing UDP flows of removed endpoints")
	} else if n > 0 {
		klog.FromContext(ctx).V(2).Info("cleared UDP flows of removed endpoints", "flows", n)
	}
	end := p.cfg.Clock.Now()
	klog.FromContext(ctx).V(4).Info("service rules applied", "ports", ports, "full", full, "took", end.Sub(start))
	if p.cfg.OnSync != nil {
		p.cfg.OnSync(start, end, full, ports)
	}
	return nil
}

// cachedService is a Service's fragment as last computed.
type cachedService struct {
	frag  *ruleset
	ports int
	// udp are the endpoints ("IP:port") of its UDP ports.
	udp map[string]bool
	// health is its health check node port, if any.
	health *healthCheck
}

// healthOf is the health check of a Service's ports (the port is the
// Service's; the count, its endpoints on node).
func healthOf(ports []servicePort, node string) *healthCheck {
	for i := range ports {
		if ports[i].HealthCheckNodePort != 0 {
			return &healthCheck{Port: ports[i].HealthCheckNodePort, Local: len(ports[i].localEndpoints(node))}
		}
	}
	return nil
}

// reportService records a Warning event on svc when its problems change.
func (p *Proxier) reportService(svc *corev1.Service, problems []problem) {
	key := svc.Namespace + "/" + svc.Name
	var texts []string
	for _, pr := range problems {
		texts = append(texts, pr.Reason+": "+pr.Message)
	}
	joined := strings.Join(texts, "; ")
	p.mu.Lock()
	prev, seen := p.problems[key]
	if joined == "" {
		delete(p.problems, key)
	} else {
		p.problems[key] = joined
	}
	p.mu.Unlock()
	if joined == "" || seen && prev == joined || p.recorder == nil {
		return
	}
	for _, pr := range problems {
		p.recorder.Event(svc, corev1.EventTypeWarning, pr.Reason, pr.Message)
	}
}

// Cleanup removes the proxy's table.
func Cleanup(ctx context.Context, table string) error {
	nft, err := knftables.New(knftables.IPv4Family, table)
	if err != nil {
		return err
	}
	tx := nft.NewTransaction()
	tx.Delete(&knftables.Table{})
	if err := nft.Run(ctx, tx); err != nil && !knftables.IsNotFound(err) {
		return err
	}
	return nil
}

// enableBridgeNetfilter makes traffic between pods on one bridge pass
// the rules (a pod reaching another pod on the node through a cluster
// IP, whose reply must be un-NATed): bridge-nf-call-iptables, from the
// br_netfilter module.
func enableBridgeNetfilter(logger klog.Logger) {
	const path = "/proc/sys/net/bridge/bridge-nf-call-iptables"
	if err := os.WriteFile(path, []byte("1"), 0o644); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			logger.Info("br_netfilter is not loaded: pods cannot reach Services whose endpoints are on their own node (modprobe br_netfilter)")
			return
		}
		logger.Error(err, "enabling bridge netfilter")
	}
}

// announceDNS publishes where the node's cluster DNS listens on its Node
// (removes the annotation when addr is empty).
func (p *Proxier) announceDNS(ctx context.Context, addr string) error {
	var value any
	if addr != "" {
		value = addr
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{DNSAddressAnnotation: value}}})
	if err != nil {
		return err
	}
	return wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := p.cfg.Client.CoreV1().Nodes().Patch(ctx, p.cfg.NodeName, types.MergePatchType, patch, metav1.PatchOptions{})
		if err != nil {
			klog.FromContext(ctx).V(2).Info("publishing the cluster DNS address on the node; retrying", "err", err)
			return false, nil
		}
		return true, nil
	})
}

// report writes the ServiceProxyReady condition on the Node when it
// changes: True once the rules are applied, False with the error of the
// failed transaction (which left the previous rules in place).
func (p *Proxier) report(ctx context.Context, failure string) {
	if p.condition != nil && *p.condition == failure {
		return
	}
	cond := corev1.NodeCondition{Type: ConditionServiceProxyReady, Status: corev1.ConditionTrue, Reason: "RulesApplied",
		Message: "the node's service rules are applied", LastHeartbeatTime: metav1.NewTime(p.cfg.Clock.Now()),
		LastTransitionTime: metav1.NewTime(p.cfg.Clock.Now())}
	if failure != "" {
		cond.Status, cond.Reason, cond.Message = corev1.ConditionFalse, "RulesNotApplied", "applying the service rules failed (retrying): "+failure
	}
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"conditions": []corev1.NodeCondition{cond}}})
	if err != nil {
		return
	}
	if _, err := p.cfg.Client.CoreV1().Nodes().PatchStatus(ctx, p.cfg.NodeName, patch); err != nil {
		klog.FromContext(ctx).V(2).Info("writing the node's service proxy condition", "err", err)
		return
	}
	p.condition = &failure
}

// byServiceIndex indexes EndpointSlices by their Service's key.
const byServiceIndex = "service"

func sliceServiceIndex(obj any) ([]string, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || s.Labels[discoveryv1.LabelServiceName] == "" {
		return nil, nil
	}
	return []string{s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]}, nil
}

// serviceKeyOf is the key of the Service a Service or EndpointSlice
// event is about ("" for others).
func serviceKeyOf(obj any) string {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	switch o := obj.(type) {
	case *corev1.Service:
		return o.Namespace + "/" + o.Name
	case *discoveryv1.EndpointSlice:
		if name := o.Labels[discoveryv1.LabelServiceName]; name != "" {
			return o.Namespace + "/" + name
		}
	}
	return ""
}

func (p *Proxier) markDirty(key string) {
	if key == "" {
		return
	}
	p.mu.Lock()
	if p.dirty == nil {
		p.dirty = map[string]bool{}
	}
	p.dirty[key] = true
	p.mu.Unlock()
}

// redo marks what a failed sync took on as still to do.
func (p *Proxier) redo(dirty map[string]bool, all bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.allDirty = p.allDirty || all
	for key := range dirty {
		p.dirty[key] = true
	}
}

// modelAll computes every Service's fragment (at start, now and then,
// and after a failed sync that had to), and adds the UDP endpoints that
// went to stale.
func (p *Proxier) modelAll(n node, stale staleUDP) (map[string]cachedService, error) {
	svcs, err := p.services.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	out := make(map[string]cachedService, len(svcs))
	for _, svc := range svcs {
		key := svc.Namespace + "/" + svc.Name
		sls, err := p.slicesOf(key)
		if err != nil {
			return nil, err
		}
		out[key] = p.model(n, svc, sls, p.cache[key], stale)
	}
	for key, c := range p.cache {
		if _, ok := out[key]; !ok {
			for ep := range c.udp {
				stale[ep] = true
			}
		}
	}
	return out, nil
}

// slicesOf are the EndpointSlices of the Service with key.
func (p *Proxier) slicesOf(key string) ([]*discoveryv1.EndpointSlice, error) {
	objs, err := p.sliceIndex.ByIndex(byServiceIndex, key)
	if err != nil {
		return nil, err
	}
	sls := make([]*discoveryv1.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		if s, ok := o.(*discoveryv1.EndpointSlice); ok {
			sls = append(sls, s)
		}
	}
	return sls, nil
}

// modelDirty recomputes the fragments of the Services that events named.
func (p *Proxier) modelDirty(n node, dirty map[string]bool, stale staleUDP) (map[string]cachedService, error) {
	out := maps.Clone(p.cache)
	for key := range dirty {
		ns, name, _ := strings.Cut(key, "/")
		svc, err := p.services.Services(ns).Get(name)
		if apierrors.IsNotFound(err) {
			for ep := range out[key].udp {
				stale[ep] = true
			}
			delete(out, key)
			continue
		}
		if err != nil {
			return nil, err
		}
		sls, err := p.slicesOf(key)
		if err != nil {
			return nil, err
		}
		out[key] = p.model(n, svc, sls, out[key], stale)
	}
	return out, nil
}

// model computes one Service's fragment; old is what it replaces.
func (p *Proxier) model(n node, svc *corev1.Service, sls []*discoveryv1.EndpointSlice, old cachedService, stale staleUDP) cachedService {
	sps, problems := servicePorts(svc, sls)
	p.reportService(svc, problems)
	c := cachedService{frag: serviceRules(n, sps), ports: len(sps), udp: udpEndpoints(sps), health: healthOf(sps, n.Name)}
	for ep := range old.udp {
		if !c.udp[ep] {
			stale[ep] = true
		}
	}
	return c
}
