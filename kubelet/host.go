package kubelet

import (
	"context"
	"errors"
	"fmt"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// KubeletVersion is what nodes report in status.nodeInfo.kubeletVersion.
var KubeletVersion = "v1.37.2"

// NodeConfig describes one node a Host runs.
type NodeConfig struct {
	Name    string
	Runtime Runtime
	// Capacity of the node; allocatable is the same.
	Capacity corev1.ResourceList
	// Labels added to the well-known ones (hostname, os, arch).
	Labels    map[string]string
	Addresses []corev1.NodeAddress
	// NodeInfo fills status.nodeInfo; versions are added by the Host.
	NodeInfo corev1.NodeSystemInfo
	// KubeletPort is where the node's agent serves logs, exec and
	// port-forward (status.daemonEndpoints.kubeletEndpoint.port); 0 for
	// nodes that serve none (simulated ones).
	KubeletPort int32
	// Simulated nodes may be "powered off" for tests and demos: annotated
	// sim.skiff.dev/heartbeat=stopped, the node renews no Lease, posts no
	// status and touches no pod, as a crashed machine would.
	Simulated bool
}

// StoppedAnnotation stops a simulated node's agent (see NodeConfig).
const StoppedAnnotation = "sim.skiff.dev/heartbeat"

// stopped says whether a simulated node was told to play dead.
func (h *Host) stopped(n *node) bool {
	if !n.cfg.Simulated || h.nodeL == nil {
		return false
	}
	obj, err := h.nodeL.Get(n.cfg.Name)
	return err == nil && obj.Annotations[StoppedAnnotation] == "stopped"
}

// Config configures a Host.
type Config struct {
	Client kubernetes.Interface
	Nodes  []NodeConfig
	// Clock is injected so tests control time; defaults to the real one.
	Clock clock.WithTickerAndDelayedExecution
	// LeaseDuration is the node Lease's leaseDurationSeconds (40 s);
	// leases are renewed every quarter of it.
	LeaseDuration time.Duration
	// StatusReportInterval is how often an unchanged node status is
	// posted again (5 minutes, as upstream).
	StatusReportInterval time.Duration
	// Workers sync pods in parallel (default 16, or one per node for
	// larger fleets: each upstream kubelet writes its own pods' status, so
	// a host of many nodes must not funnel them through a few writers).
	Workers int
	// VolumesDir holds the volumes of the pods of non-simulated nodes;
	// without it no volume is prepared (runtimes that run no process).
	VolumesDir string
	// Pods, when set, is a running informer of all pods to share (nodes
	// simulated beside the controllers, which already watch every pod);
	// its objects are never modified. Without it the host watches the
	// pods bound to its nodes itself.
	Pods cache.SharedIndexInformer
	// ClusterDomain is the cluster's DNS domain (cluster.local). Pods with
	// dnsPolicy ClusterFirst resolve with the kube-system/kube-dns
	// Service's cluster IP when it exists.
	ClusterDomain string
}

// Host runs the nodes of a Config.
type Host struct {
	cfg   Config
	nodes map[string]*node
	queue workqueue.TypedRateLimitingInterface[string]
	pods  corelisters.PodLister
	nodeL corelisters.NodeLister

	mu      sync.Mutex
	uids    map[string]podRef        // pod key → what the runtime holds for it
	byUID   map[types.UID]string     // and back, for runtime events
	backoff map[string]*startBackoff // "uid/container" → failed start
	// podsReady is pods once Run set it, for other goroutines (Pod).
	podsReady corelisters.PodLister
	prober    *prober
	volState  *volumeState
	// preStopped are pods whose preStop hooks ran.
	preStopped map[types.UID]bool
	// dns is the cluster DNS last looked up, and when.
	dns   ClusterDNS
	dnsAt time.Time
}

type podRef struct {
	uid  types.UID
	node string
}

type node struct {
	cfg      NodeConfig
	lease    *leaseState
	recorder record.EventRecorder
}

// New checks a Config and returns its Host.
func New(cfg Config) (*Host, error) {
	if cfg.Client == nil {
		return nil, errors.New("kubelet: a client is required")
	}
	if len(cfg.Nodes) == 0 {
		return nil, errors.New("kubelet: no nodes to run")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.LeaseDuration <= 0 {
		cfg.LeaseDuration = 40 * time.Second
	}
	if cfg.StatusReportInterval <= 0 {
		cfg.StatusReportInterval = 5 * time.Minute
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = "cluster.local"
	}
	if cfg.Workers <= 0 {
		cfg.Workers = max(16, len(cfg.Nodes))
	}
	h := &Host{cfg: cfg, nodes: map[string]*node{}, uids: map[string]podRef{}, byUID: map[types.UID]string{}, backoff: map[string]*startBackoff{}}
	h.prober = newProber(h)
	h.volState = newVolumeState()
	for _, n := range cfg.Nodes {
		if n.Name == "" || n.Runtime == nil {
			return nil, errors.New("kubelet: every node needs a name and a runtime")
		}
		if _, dup := h.nodes[n.Name]; dup {
			return nil, fmt.Errorf("kubelet: node %q configured twice", n.Name)
		}
		h.nodes[n.Name] = &node{cfg: n, lease: &leaseState{}}
	}
	h.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "kubelet", Clock: cfg.Clock})
	return h, nil
}

// Run registers the nodes and runs their pods until ctx ends.
func (h *Host) Run(ctx context.Context) error {
	logger := klog.FromContext(ctx).WithName("kubelet")
	ctx = klog.NewContext(ctx, logger)
	defer h.queue.ShutDown()

	// Events as upstream's kubelet records them: core/v1, source kubelet
	// on the node, through the correlator's aggregation and spam filter.
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: h.cfg.Client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	for name, n := range h.nodes {
		n.recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: name})
	}

	if err := h.registerAll(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while registering
		}
		return err
	}
	// One node watches only its pods; a fleet of simulated nodes shares
	// one watch of all bound pods.
	podSelector, nodeSelector := fields.OneTermNotEqualSelector("spec.nodeName", "").String(), ""
	if len(h.nodes) == 1 {
		for name := range h.nodes {
			podSelector = fields.OneTermEqualSelector("spec.nodeName", name).String()
			nodeSelector = fields.OneTermEqualSelector("metadata.name", name).String()
		}
	}
	// The agent never reads managedFields; its status writes from cached
	// copies leave the stored ones unchanged.
	podInformers := informers.NewSharedInformerFactoryWithOptions(h.cfg.Client, 0, informers.WithTransform(ctrlcache.TransformStripManagedFields()),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = podSelector }))
	nodeInformers := informers.NewSharedInformerFactoryWithOptions(h.cfg.Client, 0, informers.WithTransform(ctrlcache.TransformStripManagedFields()),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = nodeSelector }))
	podInformer := h.cfg.Pods
	if podInformer == nil {
		podInformer = podInformers.Core().V1().Pods().Informer()
	}
	nodeInformer := nodeInformers.Core().V1().Nodes()
	h.pods, h.nodeL = corelisters.NewPodLister(podInformer.GetIndexer()), nodeInformer.Lister()
	h.mu.Lock()
	h.podsReady = h.pods
	h.mu.Unlock()
	enqueue := func(obj any) {
		pod, ok := obj.(*corev1.Pod)
		if t, tomb := obj.(cache.DeletedFinalStateUnknown); tomb {
			pod, ok = t.Obj.(*corev1.Pod)
		}
		if ok && h.nodes[pod.Spec.NodeName] == nil {
			return // not bound to one of these nodes
		}
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			h.queue.Add(key)
		}
	}
	if _, err := podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	}); err != nil {
		return err
	}
	if _, err := nodeInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(old, obj any) {
			o, n := old.(*corev1.Node), obj.(*corev1.Node)
			if o.Spec.PodCIDR != n.Spec.PodCIDR || o.Annotations[StoppedAnnotation] != n.Annotations[StoppedAnnotation] {
				h.enqueueNodePods(n.Name)
			}
		},
	}); err != nil {
		return err
	}
	podInformers.Start(ctx.Done())
	nodeInformers.Start(ctx.Done())
	defer podInformers.Shutdown()
	defer nodeInformers.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), podInformer.HasSynced, nodeInformer.Informer().HasSynced) {
		return nil // stopped before the caches filled
	}

	var wg sync.WaitGroup
	for _, n := range h.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case uid := <-n.cfg.Runtime.Events():
					h.enqueueUID(uid)
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		h.heartbeat(ctx)
	}()
	for range h.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for h.processNext(ctx) {
			}
		}()
	}
	logger.Info("node agent running", "nodes", len(h.nodes))
	<-ctx.Done()
	h.queue.ShutDown()
	wg.Wait()
	return nil
}

func (h *Host) enqueueNodePods(nodeName string) {
	pods, err := h.pods.List(everything)
	if err != nil {
		return
	}
	for _, p := range pods {
		if p.Spec.NodeName == nodeName {
			h.queue.Add(p.Namespace + "/" + p.Name)
		}
	}
}

func (h *Host) enqueueUID(uid types.UID) {
	h.mu.Lock()
	key, ok := h.byUID[uid]
	h.mu.Unlock()
	if ok {
		h.queue.Add(key)
	}
}

func (h *Host) processNext(ctx context.Context) bool {
	key, quit := h.queue.Get()
	if quit {
		return false
	}
	defer h.queue.Done(key)
	requeue, err := h.syncPod(ctx, key)
	switch {
	case err != nil:
		if !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			klog.FromContext(ctx).Error(err, "syncing pod", "pod", key)
		}
		h.queue.AddRateLimited(key)
	case requeue > 0:
		h.queue.Forget(key)
		h.queue.AddAfter(key, requeue)
	default:
		h.queue.Forget(key)
	}
	return true
}

// syncPod brings one pod's containers and status in line; it returns how
// long until it should look again, when something is pending.
func (h *Host) syncPod(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	pod, err := h.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return 0, h.forget(ctx, key)
	}
	if err != nil {
		return 0, err
	}
	n, ours := h.nodes[pod.Spec.NodeName]
	if !ours || h.stopped(n) {
		return 0, nil
	}
	if err := h.rememberUID(ctx, key, pod); err != nil {
		return 0, err
	}
	rt := n.cfg.Runtime
	now := h.cfg.Clock.Now()
	in := statusInput{now: now, hostIPs: nodeIPs(n.cfg)}
	trace := newSyncTrace(klog.FromContext(ctx), key)
	defer trace.done()

	switch {
	case pod.DeletionTimestamp != nil:
		grace := time.Duration(0)
		if g := pod.DeletionGracePeriodSeconds; g != nil {
			grace = time.Duration(*g) * time.Second
		}
		h.prober.forget(pod.UID)
		if !n.cfg.Simulated {
			grace = h.runPreStop(ctx, n, pod, grace)
		}
		if err := rt.StopPod(ctx, pod, grace); err != nil {
			return 0, fmt.Errorf("stopping pod: %w", err)
		}
		if in.states, err = rt.Containers(ctx, pod); err != nil {
			return 0, err
		}
		in.terminating = true
		// A pod that finished keeps the status it finished with.
		finished := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
		if !finished {
			if err := h.updateStatus(ctx, pod, podStatus(pod, in)); err != nil && !apierrors.IsNotFound(err) {
				return 0, err
			}
		}
		if err := h.removePod(ctx, n, pod.UID); err != nil {
			return 0, fmt.Errorf("removing pod: %w", err)
		}
		// The final delete: the pod's containers are gone.
		err := h.cfg.Client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{
			GracePeriodSeconds: new(int64(0)), Preconditions: metav1.NewUIDPreconditions(string(pod.UID))})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return 0, fmt.Errorf("deleting pod: %w", err)
		}
		return 0, nil
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		// Terminal pods stay as they are; their processes are gone.
		return 0, h.finishPod(ctx, n, pod)
	}

	if !pod.Spec.HostNetwork {
		nodeObj, err := h.nodeL.Get(n.cfg.Name)
		switch {
		case err != nil || nodeObj.Spec.PodCIDR == "":
			in.waitReason, in.waitMessage = "ContainerCreating", "waiting for the node to be assigned a podCIDR"
			return 0, h.updateStatus(ctx, pod, podStatus(pod, in))
		default:
			if in.podIPs, err = rt.StartSandbox(ctx, pod, nodeObj.Spec.PodCIDR); err != nil {
				return 0, fmt.Errorf("starting sandbox: %w", err)
			}
			trace.step("sandbox")
		}
	} else if _, err := rt.StartSandbox(ctx, pod, ""); err != nil {
		return 0, fmt.Errorf("starting sandbox: %w", err)
	}
	in.sandbox = true
	if !n.cfg.Simulated && h.cfg.VolumesDir != "" && len(pod.Spec.Volumes) > 0 {
		v := &volumes{dir: h.cfg.VolumesDir, client: h.cfg.Client, state: h.volState, now: h.cfg.Clock.Now}
		src := &envSource{client: h.cfg.Client, pod: pod, podIPs: in.podIPs, hostIPs: in.hostIPs, allocatable: n.cfg.Capacity}
		paths, err := v.prepare(ctx, pod, src)
		var se *StartError
		if errors.As(err, &se) {
			h.event(n, pod, corev1.EventTypeWarning, FailedMount, "%s", se.Message)
			in.waitReason, in.waitMessage = se.Reason, se.Message
			if in.states, err = rt.Containers(ctx, pod); err != nil {
				return 0, err
			}
			return 5 * time.Second, h.updateStatus(ctx, pod, podStatus(pod, in))
		} else if err != nil {
			return 0, err
		}
		in.volumes = paths
		trace.step("volumes")
	}
	if !n.cfg.Simulated {
		in.probe = func(c *corev1.Container, id string, kind probeKind) probeResult {
			return h.prober.result(pod.UID, c, id, kind)
		}
		// Containers whose liveness or startup probe failed are stopped,
		// then restarted below as their restart policy says.
		for name, kind := range h.prober.failed(pod.UID) {
			h.event(n, pod, corev1.EventTypeNormal, "Killing", "%s", probeFailureMessage(name, kind))
			if err := rt.StopContainer(ctx, pod, name, terminationGrace(pod, ContainerByName(pod, name), kind)); err != nil {
				return 0, fmt.Errorf("stopping container %q: %w", name, err)
			}
		}
	}
	var retryAt time.Time
	for range 2 + len(pod.Spec.InitContainers) {
		if in.states, err = rt.Containers(ctx, pod); err != nil {
			return 0, err
		}
		in.plan = planPod(pod, in.states, now)
		if len(in.plan.start) == 0 {
			break
		}
		failed := false
		for _, a := range in.plan.start {
			until, err := h.startContainer(ctx, n, pod, a, now, &in)
			trace.step("start " + a.container.Name)
			if err != nil {
				return 0, fmt.Errorf("starting container %q: %w", a.container.Name, err)
			}
			if !until.IsZero() {
				failed = true
				if retryAt.IsZero() || until.Before(retryAt) {
					retryAt = until
				}
			}
		}
		if failed {
			in.states, err = rt.Containers(ctx, pod)
			if err != nil {
				return 0, err
			}
			break
		}
	}
	if !n.cfg.Simulated {
		h.prober.sync(ctx, n, pod, in.states)
	}
	status := podStatus(pod, in)
	if err := h.updateStatus(ctx, pod, status); err != nil {
		return 0, err
	}
	trace.step("status")
	if status.Phase == corev1.PodSucceeded || status.Phase == corev1.PodFailed {
		return 0, h.finishPod(ctx, n, pod)
	}
	if !retryAt.IsZero() && (in.plan.requeue.IsZero() || retryAt.Before(in.plan.requeue)) {
		in.plan.requeue = retryAt
	}
	if in.volumes != nil && slices.ContainsFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return refreshable(&v) }) {
		// Look again to refresh the volumes' content.
		if at := now.Add(RefreshInterval); in.plan.requeue.IsZero() || at.Before(in.plan.requeue) {
			in.plan.requeue = at
		}
	}
	if !in.plan.requeue.IsZero() {
		return max(in.plan.requeue.Sub(now), time.Millisecond), nil
	}
	return 0, nil
}

// minimumGrace is what containers get after a preStop hook that used up
// the grace period, as upstream's kubelet.
const minimumGrace = 2 * time.Second

// runPreStop runs the preStop hooks of the pod's running containers, in
// parallel, within the grace period; it returns the grace left for
// SIGTERM. Each pod's hooks run once.
func (h *Host) runPreStop(ctx context.Context, n *node, pod *corev1.Pod, grace time.Duration) time.Duration {
	h.mu.Lock()
	done := h.preStopped[pod.UID]
	if h.preStopped == nil {
		h.preStopped = map[types.UID]bool{}
	}
	h.preStopped[pod.UID] = true
	h.mu.Unlock()
	var hooked []*corev1.Container
	for _, c := range probedContainers(pod) {
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
			hooked = append(hooked, c)
		}
	}
	if done || len(hooked) == 0 || grace <= 0 {
		return grace
	}
	states, err := n.cfg.Runtime.Containers(ctx, pod)
	if err != nil {
		return grace
	}
	start := h.cfg.Clock.Now()
	streamer, _ := n.cfg.Runtime.(Streamer)
	var wg sync.WaitGroup
	for _, c := range hooked {
		if st, ok := states[c.Name]; !ok || st.Exited {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := runAction(ctx, streamer, pod, c, hookAction(c.Lifecycle.PreStop), grace); err != nil {
				h.event(n, pod, corev1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed: %v", hookError(err))
			}
		}()
	}
	wg.Wait()
	return max(grace-h.cfg.Clock.Since(start), minimumGrace)
}

// runPostStart runs a started container's postStart hook; a failed hook
// stops the container, as upstream (its restart policy decides what
// follows).
func (h *Host) runPostStart(ctx context.Context, n *node, pod *corev1.Pod, c *corev1.Container) {
	if c.Lifecycle == nil || c.Lifecycle.PostStart == nil {
		return
	}
	streamer, _ := n.cfg.Runtime.(Streamer)
	if _, err := runAction(ctx, streamer, pod, c, hookAction(c.Lifecycle.PostStart), terminationGrace(pod, nil, "")); err != nil {
		h.event(n, pod, corev1.EventTypeWarning, "FailedPostStartHook", "PostStartHook failed: %v", hookError(err))
		_ = n.cfg.Runtime.StopContainer(ctx, pod, c.Name, terminationGrace(pod, nil, ""))
	}
}

// hookError is a hook's failure as its event says it.
func hookError(err error) string {
	var f *actionFailure
	if errors.As(err, &f) {
		return f.msg
	}
	return err.Error()
}

// PodsOn lists the pods bound to one of the host's nodes.
func (h *Host) PodsOn(nodeName string) []*corev1.Pod {
	h.mu.Lock()
	pods := h.podsReady
	h.mu.Unlock()
	if pods == nil {
		return nil
	}
	all, _ := pods.List(everything)
	var out []*corev1.Pod
	for _, p := range all {
		if p.Spec.NodeName == nodeName {
			out = append(out, p)
		}
	}
	return out
}

// podByUID finds a pod the host runs by its UID.
func (h *Host) podByUID(uid types.UID) (*corev1.Pod, error) {
	h.mu.Lock()
	key, ok := h.byUID[uid]
	pods := h.podsReady
	h.mu.Unlock()
	if !ok || pods == nil {
		return nil, apierrors.NewNotFound(corev1.Resource("pods"), string(uid))
	}
	ns, name, _ := cache.SplitMetaNamespaceKey(key)
	pod, err := pods.Pods(ns).Get(name)
	if err != nil {
		return nil, err
	}
	if pod.UID != uid {
		return nil, apierrors.NewNotFound(corev1.Resource("pods"), name)
	}
	return pod, nil
}

// ContainerByName finds one of the pod's containers: regular, init or
// ephemeral (as the container it runs as).
func ContainerByName(pod *corev1.Pod, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	for i := range pod.Spec.EphemeralContainers {
		if ec := &pod.Spec.EphemeralContainers[i]; ec.Name == name {
			return ephemeralContainer(ec)
		}
	}
	return nil
}

// terminationGrace is how long a container stopped for a failed probe
// gets: the probe's terminationGracePeriodSeconds, else the pod's (30 s
// by default).
func terminationGrace(pod *corev1.Pod, c *corev1.Container, kind probeKind) time.Duration {
	grace := int64(30)
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = *g
	}
	if c != nil {
		if p := containerProbes(c)[kind]; p != nil && p.TerminationGracePeriodSeconds != nil {
			grace = *p.TerminationGracePeriodSeconds
		}
	}
	return time.Duration(grace) * time.Second
}

// Pod returns a pod bound to one of the host's nodes, for the node's
// agent server; a pod of another node is not found.
func (h *Host) Pod(nodeName, namespace, name string) (*corev1.Pod, error) {
	h.mu.Lock()
	pods := h.podsReady
	h.mu.Unlock()
	if pods == nil {
		return nil, errors.New("the node agent is starting")
	}
	pod, err := pods.Pods(namespace).Get(name)
	if err != nil {
		return nil, err
	}
	if pod.Spec.NodeName != nodeName {
		return nil, apierrors.NewNotFound(corev1.Resource("pods"), name)
	}
	return pod, nil
}

// Back-off of containers that failed to start (image pulls included), as
// upstream's kubelet: 10 s, doubling up to 5 minutes.
const (
	startBackoffInitial = 10 * time.Second
	startBackoffMax     = 5 * time.Minute
)

type startBackoff struct {
	until time.Time
	delay time.Duration
	err   *StartError
}

// startContainer starts one container unless it is backing off after a
// failure; a failure the pod's status can explain is recorded in in and
// answered with when to retry, not returned.
func (h *Host) startContainer(ctx context.Context, n *node, pod *corev1.Pod, a startAction, now time.Time, in *statusInput) (time.Time, error) {
	key := string(pod.UID) + "/" + a.container.Name
	h.mu.Lock()
	b := h.backoff[key]
	h.mu.Unlock()
	if in.startErrors == nil {
		in.startErrors = map[string]*StartError{}
	}
	if b != nil && now.Before(b.until) {
		shown := b.err
		if b.err.Reason == ReasonErrImagePull {
			shown = &StartError{Reason: ReasonImagePullBackOff, Message: fmt.Sprintf("Back-off pulling image %q: %s", a.container.Image, b.err.Message)}
			h.event(n, pod, corev1.EventTypeNormal, "BackOff", "Back-off pulling image %q", a.container.Image)
		}
		in.startErrors[a.container.Name] = shown
		return b.until, nil
	}
	src := &envSource{client: h.cfg.Client, pod: pod, podIPs: in.podIPs, hostIPs: in.hostIPs, allocatable: n.cfg.Capacity, services: !n.cfg.Simulated}
	c, err := src.runnable(ctx, a.container)
	var ms []Mount
	if err == nil && in.volumes != nil {
		ms, err = mounts(a.container, in.volumes)
	}
	if err == nil {
		sctx := ctx
		if !n.cfg.Simulated && len(pod.Spec.ImagePullSecrets) > 0 {
			sctx = WithPullCredentials(ctx, h.pullCredentials(ctx, pod))
		}
		if a.target != "" {
			sctx = WithProcessTarget(sctx, a.target)
		}
		if !n.cfg.Simulated {
			sctx = WithClusterDNS(sctx, h.clusterDNS(ctx))
		}
		err = n.cfg.Runtime.StartContainer(sctx, pod, c, a.attempt, ms)
	}
	var se *StartError
	switch {
	case err == nil:
		h.mu.Lock()
		delete(h.backoff, key)
		h.mu.Unlock()
		if !n.cfg.Simulated {
			h.event(n, pod, corev1.EventTypeNormal, "Started", "Started container %s", a.container.Name)
			h.runPostStart(ctx, n, pod, a.container)
		}
		return time.Time{}, nil
	case errors.As(err, &se):
		delay := startBackoffInitial
		if b != nil {
			delay = min(2*b.delay, startBackoffMax)
		}
		h.mu.Lock()
		h.backoff[key] = &startBackoff{until: now.Add(delay), delay: delay, err: se}
		h.mu.Unlock()
		in.startErrors[a.container.Name] = se
		if se.Reason == ReasonErrImagePull {
			h.event(n, pod, corev1.EventTypeWarning, "Failed", "Failed to pull image %q: %s", a.container.Image, se.Message)
		}
		h.event(n, pod, corev1.EventTypeWarning, "Failed", "Error: %s", se.Reason)
		return now.Add(delay), nil
	default:
		return time.Time{}, err
	}
}

// event records an event about a pod as the node's kubelet.
func (h *Host) event(n *node, pod *corev1.Pod, eventtype, reason, format string, args ...any) {
	if n.recorder != nil {
		n.recorder.Eventf(pod, eventtype, reason, format, args...)
	}
}

// rememberUID notes which pod UID a key names; when a pod is replaced by
// another of the same name, the runtime's copy of the old one is removed.
func (h *Host) rememberUID(ctx context.Context, key string, pod *corev1.Pod) error {
	h.mu.Lock()
	old, ok := h.uids[key]
	h.uids[key] = podRef{uid: pod.UID, node: pod.Spec.NodeName}
	if ok && old.uid != pod.UID {
		delete(h.byUID, old.uid)
	}
	h.byUID[pod.UID] = key
	h.mu.Unlock()
	if ok && old.uid != pod.UID {
		if n, ok := h.nodes[old.node]; ok {
			return n.cfg.Runtime.RemovePod(ctx, old.uid)
		}
	}
	return nil
}

func (h *Host) forget(ctx context.Context, key string) error {
	h.mu.Lock()
	ref, ok := h.uids[key]
	delete(h.uids, key)
	delete(h.byUID, ref.uid)
	delete(h.preStopped, ref.uid)
	for k := range h.backoff {
		if strings.HasPrefix(k, string(ref.uid)+"/") {
			delete(h.backoff, k)
		}
	}
	h.mu.Unlock()
	if !ok {
		return nil
	}
	if n, ok := h.nodes[ref.node]; ok {
		return h.removePod(ctx, n, ref.uid)
	}
	return nil
}

// finishPod stops what is left of a pod that reached Succeeded or
// Failed and releases its network and volumes; its exited containers
// and their logs stay (`kubectl logs` of a finished Job's pod works)
// until the pod is deleted, as upstream.
func (h *Host) finishPod(ctx context.Context, n *node, pod *corev1.Pod) error {
	h.prober.forget(pod.UID)
	if err := n.cfg.Runtime.StopPod(ctx, pod, 0); err != nil {
		return err
	}
	if err := n.cfg.Runtime.StopSandbox(ctx, pod.UID); err != nil {
		return fmt.Errorf("releasing the pod's network: %w", err)
	}
	if h.cfg.VolumesDir == "" {
		return nil
	}
	h.volState.forget(string(pod.UID))
	return (&volumes{dir: h.cfg.VolumesDir}).cleanup(string(pod.UID))
}

// removePod removes the pod's containers and sandbox, then its volumes.
func (h *Host) removePod(ctx context.Context, n *node, uid types.UID) error {
	h.prober.forget(uid)
	if err := n.cfg.Runtime.RemovePod(ctx, uid); err != nil {
		return err
	}
	if h.cfg.VolumesDir == "" {
		return nil
	}
	h.volState.forget(string(uid))
	return (&volumes{dir: h.cfg.VolumesDir}).cleanup(string(uid))
}

func (h *Host) updateStatus(ctx context.Context, pod *corev1.Pod, status corev1.PodStatus) error {
	// Stored times have whole seconds; compare like with like, or every
	// sync would send a status that differs only below the second.
	truncateTimes(&status)
	if apiequality.Semantic.DeepEqual(pod.Status, status) {
		return nil
	}
	p := pod.DeepCopy()
	p.Status = status
	_, err := h.cfg.Client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("updating status: %w", err)
	}
	return nil
}

func nodeIPs(n NodeConfig) []string {
	var ips []string
	for _, a := range n.Addresses {
		if a.Type == corev1.NodeInternalIP {
			ips = append(ips, a.Address)
		}
	}
	return ips
}

// DefaultCapacity is a simulated node's capacity unless flags say otherwise.
func DefaultCapacity() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("8"),
		corev1.ResourceMemory:           resource.MustParse("32Gi"),
		corev1.ResourcePods:             resource.MustParse("110"),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
}

// truncateTimes cuts a status's timestamps to the second, as they are
// serialized.
func truncateTimes(st *corev1.PodStatus) {
	cut := func(t *metav1.Time) {
		if t != nil && !t.IsZero() {
			*t = t.Rfc3339Copy()
		}
	}
	cut(st.StartTime)
	for i := range st.Conditions {
		cut(&st.Conditions[i].LastProbeTime)
		cut(&st.Conditions[i].LastTransitionTime)
	}
	states := func(s *corev1.ContainerState) {
		if s.Running != nil {
			cut(&s.Running.StartedAt)
		}
		if s.Terminated != nil {
			cut(&s.Terminated.StartedAt)
			cut(&s.Terminated.FinishedAt)
		}
	}
	for _, list := range [][]corev1.ContainerStatus{st.InitContainerStatuses, st.ContainerStatuses, st.EphemeralContainerStatuses} {
		for i := range list {
			states(&list[i].State)
			states(&list[i].LastTerminationState)
		}
	}
}

// dnsService names the cluster DNS Service, as upstream installers do.
var dnsService = types.NamespacedName{Namespace: "kube-system", Name: "kube-dns"}

// clusterDNSCacheTime is how long a looked-up cluster DNS is used.
const clusterDNSCacheTime = 10 * time.Second

// clusterDNS is the cluster DNS for pods, from the kube-dns Service
// (no servers when it does not exist: pods then use the node's).
func (h *Host) clusterDNS(ctx context.Context) ClusterDNS {
	now := h.cfg.Clock.Now()
	h.mu.Lock()
	if !h.dnsAt.IsZero() && now.Sub(h.dnsAt) < clusterDNSCacheTime {
		d := h.dns
		h.mu.Unlock()
		return d
	}
	h.mu.Unlock()
	d := ClusterDNS{Domain: h.cfg.ClusterDomain}
	svc, err := h.cfg.Client.CoreV1().Services(dnsService.Namespace).Get(ctx, dnsService.Name, metav1.GetOptions{})
	if err == nil {
		for _, ip := range svc.Spec.ClusterIPs {
			if ip != "" && ip != corev1.ClusterIPNone {
				d.Servers = append(d.Servers, ip)
			}
		}
	} else if !apierrors.IsNotFound(err) {
		// Not known now: keep what was known, and ask again next time.
		klog.FromContext(ctx).V(2).Info("looking up the cluster DNS Service", "err", err)
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.dns
	}
	h.mu.Lock()
	h.dns, h.dnsAt = d, now
	h.mu.Unlock()
	return d
}
