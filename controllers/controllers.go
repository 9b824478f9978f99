package controllers

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/skiffhq/skiff/controllers/clusterdns"
	"github.com/skiffhq/skiff/controllers/cronjob"
	"github.com/skiffhq/skiff/controllers/daemonset"
	"github.com/skiffhq/skiff/controllers/deployment"
	"github.com/skiffhq/skiff/controllers/disruption"
	"github.com/skiffhq/skiff/controllers/endpoints"
	"github.com/skiffhq/skiff/controllers/garbagecollector"
	"github.com/skiffhq/skiff/controllers/job"
	"github.com/skiffhq/skiff/controllers/namespace"
	"github.com/skiffhq/skiff/controllers/nodeipam"
	"github.com/skiffhq/skiff/controllers/nodelifecycle"
	"github.com/skiffhq/skiff/controllers/policystatus"
	"github.com/skiffhq/skiff/controllers/replicaset"
	"github.com/skiffhq/skiff/controllers/rootca"
	"github.com/skiffhq/skiff/controllers/scheduler"
	"github.com/skiffhq/skiff/controllers/serviceaccount"
	"github.com/skiffhq/skiff/controllers/servicelb"
	"github.com/skiffhq/skiff/controllers/statefulset"
)

// Options configure the control loops.
type Options struct {
	// ClusterCIDR is the range node podCIDRs are carved from (--cluster-cidr).
	ClusterCIDR *net.IPNet
	// NodeCIDRMaskSize is the prefix length of each node's podCIDR (24).
	NodeCIDRMaskSize int
	// NodeMonitorGracePeriod is how long a node may go without renewing
	// its Lease before it is marked NotReady/Unknown (40 s).
	NodeMonitorGracePeriod time.Duration
	// OrphanQuarantine is how old a pod bound to a missing node must be
	// before it is removed (40 s).
	OrphanQuarantine time.Duration
	// Clock drives every time-dependent loop; tests inject a fake one.
	Clock clock.WithTicker
	// ClusterDNSIP is the cluster IP of the kube-dns Service; without it
	// that Service is not kept.
	ClusterDNSIP net.IP
	// RootCA is the cluster CA bundle (PEM) published in every namespace
	// as kube-root-ca.crt; without it that publisher does not run.
	RootCA []byte
	// Controllers selects the control loops to run, as
	// kube-controller-manager's --controllers: "*" is all of them, a name
	// adds one, "-name" leaves one out. Empty means all.
	Controllers []string
}

// Names lists the control loops New can run.
var Names = []string{"scheduler", "nodeipam", "nodelifecycle", "replicaset", "deployment", "daemonset", "statefulset", "job", "cronjob", "endpoints",
	"serviceaccount", "rootca", "namespace", "garbagecollector", "servicelb", "clusterdns", policystatus.Name, disruption.Name}

// enabled applies the Controllers selection to one name.
func (o *Options) enabled(name string) bool {
	if len(o.Controllers) == 0 {
		return true
	}
	on := false
	for _, c := range o.Controllers {
		switch c {
		case "*":
			on = true
		case name:
			on = true
		case "-" + name:
			return false
		}
	}
	return on
}

// Defaults fills unset options.
func (o *Options) Defaults() {
	if o.ClusterCIDR == nil {
		_, o.ClusterCIDR, _ = net.ParseCIDR("10.244.0.0/16")
	}
	if o.NodeCIDRMaskSize == 0 {
		o.NodeCIDRMaskSize = 24
	}
	if o.NodeMonitorGracePeriod == 0 {
		o.NodeMonitorGracePeriod = 40 * time.Second
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
}

// New builds the manager with every control loop registered; run it with
// Start.
func New(cfg *rest.Config, o Options) (manager.Manager, error) {
	o.Defaults()
	for _, c := range o.Controllers {
		if name := strings.TrimPrefix(c, "-"); c != "*" && !slices.Contains(Names, name) {
			return nil, fmt.Errorf("unknown controller %q; known: %s", c, strings.Join(Names, ", "))
		}
	}
	cfg = rest.CopyConfig(cfg)
	// In-process clients are not throttled: the API server is ours.
	cfg.QPS, cfg.Burst = -1, 0
	// Field managers and audit show who wrote, as upstream names them.
	cfg.UserAgent = "kube-controller-manager"
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Logger:                 klog.Background().WithName("controllers"),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// No controller reads managedFields; not caching them saves memory
		// and collector time (updates from cached copies keep the stored
		// ones, as nil managedFields in an update mean "unchanged").
		Cache:      cache.Options{DefaultTransform: cache.TransformStripManagedFields()},
		Controller: config.Controller{SkipNameValidation: new(true)},
	})
	if err != nil {
		return nil, fmt.Errorf("creating the controller manager: %w", err)
	}
	schedCfg := rest.CopyConfig(cfg)
	schedCfg.UserAgent = "kube-scheduler"
	clientset, err := kubernetes.NewForConfig(schedCfg)
	if err != nil {
		return nil, err
	}
	if err := nodelifecycle.IndexPodsByNode(mgr); err != nil {
		return nil, err
	}
	setups := []struct {
		name  string
		setup func() error
	}{
		{"scheduler", func() error {
			return mgr.Add(scheduler.New(clientset, mgr.GetCache(), mgr.GetEventRecorder(scheduler.Name), o.Clock))
		}},
		{"nodeipam", func() error { return nodeipam.Setup(mgr, o.ClusterCIDR, o.NodeCIDRMaskSize) }},
		{"nodelifecycle", func() error { return nodelifecycle.Setup(mgr, o.NodeMonitorGracePeriod, o.OrphanQuarantine, o.Clock) }},
		{"replicaset", func() error { return replicaset.Setup(mgr, o.Clock) }},
		{"deployment", func() error { return deployment.Setup(mgr, o.Clock) }},
		{"daemonset", func() error { return daemonset.Setup(mgr, o.Clock) }},
		{"statefulset", func() error { return statefulset.Setup(mgr, o.Clock) }},
		{"job", func() error { return job.Setup(mgr, o.Clock) }},
		{"cronjob", func() error { return cronjob.Setup(mgr, o.Clock) }},
		{"endpoints", func() error { return endpoints.Setup(mgr, cfg, o.Clock) }},
		{"serviceaccount", func() error { return serviceaccount.Setup(mgr) }},
		{"rootca", func() error {
			if len(o.RootCA) == 0 {
				return nil
			}
			return rootca.Setup(mgr, o.RootCA)
		}},
		{"namespace", func() error { return namespace.Setup(mgr, cfg) }},
		{"servicelb", func() error { return servicelb.Setup(mgr) }},
		{policystatus.Name, func() error { return policystatus.Setup(mgr, cfg) }},
		{disruption.Name, func() error { return disruption.Setup(mgr, o.Clock) }},
		{"clusterdns", func() error {
			if o.ClusterDNSIP == nil {
				return nil
			}
			return clusterdns.Setup(mgr, o.ClusterDNSIP)
		}},
		{"garbagecollector", func() error {
			gc, err := garbagecollector.New(cfg)
			if err != nil {
				return err
			}
			return mgr.Add(gc)
		}},
	}
	for _, s := range setups {
		if !o.enabled(s.name) {
			continue
		}
		if err := s.setup(); err != nil {
			return nil, fmt.Errorf("setting up the %s controller: %w", s.name, err)
		}
	}
	return mgr, nil
}

// Run builds the manager and runs it until ctx ends.
func Run(ctx context.Context, cfg *rest.Config, o Options) error {
	mgr, err := New(cfg, o)
	if err != nil {
		return err
	}
	return mgr.Start(ctx)
}
