package kubelet

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
)

var everything = labels.Everything()

// NodeLeaseNamespace holds the nodes' heartbeat Leases.
const NodeLeaseNamespace = "kube-node-lease"

type leaseState struct {
	mu         sync.Mutex
	lease      *coordinationv1.Lease
	lastStatus time.Time
	// runtimeDown is why the runtime did not answer at the last status
	// ("" when it did); version is what it last said.
	runtimeDown string
	version     string
}

// registerAll creates the Nodes (keeping those that exist), posts their
// status and takes their Leases, a few at a time.
func (h *Host) registerAll(ctx context.Context) error {
	sem := make(chan struct{}, 16)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for _, n := range h.nodes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			// Transient failures (conflicts with controllers writing the
			// node, a busy server) are retried until ctx ends.
			err := wait.ExponentialBackoffWithContext(ctx, wait.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Steps: 12, Cap: 5 * time.Second},
				func(ctx context.Context) (bool, error) {
					err := h.register(ctx, n)
					if err == nil {
						err = h.postStatus(ctx, n)
					}
					if err == nil {
						err = h.renewLease(ctx, n)
					}
					if err != nil {
						klog.FromContext(ctx).V(2).Info("registering node, will retry", "node", n.cfg.Name, "err", err)
						return false, nil
					}
					return true, nil
				})
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("registering node %q: %w", n.cfg.Name, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return firstErr
}

func (h *Host) register(ctx context.Context, n *node) error {
	obj := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.cfg.Name, Labels: map[string]string{
		corev1.LabelHostname:   n.cfg.Name,
		corev1.LabelOSStable:   "linux",
		corev1.LabelArchStable: runtime.GOARCH,
	}}}
	for k, v := range n.cfg.Labels {
		obj.Labels[k] = v
	}
	_, err := h.cfg.Client.CoreV1().Nodes().Create(ctx, obj, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err == nil {
		klog.FromContext(ctx).V(2).Info("registered node", "node", n.cfg.Name)
	}
	return err
}

// postStatus writes the node's status: capacity, info, addresses and
// the kubelet's conditions, keeping transition times that still hold.
func (h *Host) postStatus(ctx context.Context, n *node) error {
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error { return h.tryPostStatus(ctx, n) })
}

func (h *Host) tryPostStatus(ctx context.Context, n *node) error {
	cur, err := h.cfg.Client.CoreV1().Nodes().Get(ctx, n.cfg.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		// Deleted while we run: register again, as a restarted kubelet would.
		if err := h.register(ctx, n); err != nil {
			return err
		}
		cur, err = h.cfg.Client.CoreV1().Nodes().Get(ctx, n.cfg.Name, metav1.GetOptions{})
	}
	if err != nil {
		return err
	}
	down := h.runtimeDown(ctx, n)
	n.lease.mu.Lock()
	version := n.lease.version
	n.lease.mu.Unlock()
	now := metav1.NewTime(h.cfg.Clock.Now())
	node := cur.DeepCopy()
	node.Status.Capacity = n.cfg.Capacity.DeepCopy()
	node.Status.Allocatable = n.cfg.Capacity.DeepCopy()
	node.Status.Addresses = n.cfg.Addresses
	info := n.cfg.NodeInfo
	info.KubeletVersion = KubeletVersion
	info.ContainerRuntimeVersion = version
	if info.OperatingSystem == "" {
		info.OperatingSystem = "linux"
	}
	if info.Architecture == "" {
		info.Architecture = runtime.GOARCH
	}
	node.Status.NodeInfo = info
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = n.cfg.KubeletPort
	node.Status.Phase = ""
	want := []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status"},
	}
	if down != "" {
		// As upstream's kubelet when its runtime stops answering.
		want[3] = corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady",
			Message: "container runtime is down: " + down}
	}
	for i := range want {
		want[i].LastHeartbeatTime = now
		want[i].LastTransitionTime = now
		for _, old := range cur.Status.Conditions {
			if old.Type == want[i].Type && old.Status == want[i].Status {
				want[i].LastTransitionTime = old.LastTransitionTime
			}
		}
	}
	// Conditions of other writers (the service proxy's, a problem
	// detector's) stay, as upstream's kubelet leaves them.
	for _, old := range cur.Status.Conditions {
		if !slices.ContainsFunc(want, func(c corev1.NodeCondition) bool { return c.Type == old.Type }) {
			want = append(want, old)
		}
	}
	node.Status.Conditions = want
	if _, err := h.cfg.Client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return err
	}
	n.lease.mu.Lock()
	n.lease.lastStatus = now.Time
	n.lease.runtimeDown = down
	n.lease.mu.Unlock()
	return nil
}

// runtimeDown asks the node's runtime its version (remembering it) and
// returns why it did not answer, or "".
func (h *Host) runtimeDown(ctx context.Context, n *node) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := n.cfg.Runtime.Version(ctx)
	if err != nil {
		return err.Error()
	}
	n.lease.mu.Lock()
	n.lease.version = v
	n.lease.mu.Unlock()
	return ""
}

// renewLease renews (or takes) the node's Lease in kube-node-lease.
func (h *Host) renewLease(ctx context.Context, n *node) error {
	n.lease.mu.Lock()
	defer n.lease.mu.Unlock()
	leases := h.cfg.Client.CoordinationV1().Leases(NodeLeaseNamespace)
	now := metav1.NewMicroTime(h.cfg.Clock.Now())
	if n.lease.lease != nil {
		l := n.lease.lease.DeepCopy()
		l.Spec.RenewTime = &now
		updated, err := leases.Update(ctx, l, metav1.UpdateOptions{})
		if err == nil {
			n.lease.lease = updated
			return nil
		}
		if !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			return err
		}
		n.lease.lease = nil
	}
	l, err := leases.Get(ctx, n.cfg.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		nodeObj, err := h.cfg.Client.CoreV1().Nodes().Get(ctx, n.cfg.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		l = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: n.cfg.Name, Namespace: NodeLeaseNamespace, OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Node", Name: nodeObj.Name, UID: nodeObj.UID}}},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       new(n.cfg.Name),
				LeaseDurationSeconds: new(int32(h.cfg.LeaseDuration / time.Second)),
				RenewTime:            &now,
			},
		}
		created, err := leases.Create(ctx, l, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		n.lease.lease = created
		return nil
	}
	if err != nil {
		return err
	}
	l.Spec.RenewTime = &now
	l.Spec.HolderIdentity = new(n.cfg.Name)
	updated, err := leases.Update(ctx, l, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	n.lease.lease = updated
	return nil
}

// heartbeat renews every node's Lease each quarter of the lease
// duration and posts node status again when it is due.
func (h *Host) heartbeat(ctx context.Context) {
	logger := klog.FromContext(ctx)
	ticker := h.cfg.Clock.NewTicker(h.cfg.LeaseDuration / 4)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		}
		for _, n := range h.nodes {
			if h.stopped(n) {
				continue
			}
			if err := h.renewLease(ctx, n); err != nil && ctx.Err() == nil {
				logger.Error(err, "renewing node lease", "node", n.cfg.Name)
			}
			n.lease.mu.Lock()
			due := h.cfg.Clock.Since(n.lease.lastStatus) >= h.cfg.StatusReportInterval
			wasDown := n.lease.runtimeDown != ""
			n.lease.mu.Unlock()
			// A runtime that went away or came back changes Ready now.
			changed := !n.cfg.Simulated && (h.runtimeDown(ctx, n) != "") != wasDown
			if !due && !changed && h.statusHolds(n.cfg.Name, !wasDown) {
				continue
			}
			if err := h.postStatus(ctx, n); err != nil && ctx.Err() == nil {
				logger.Error(err, "posting node status", "node", n.cfg.Name)
			}
		}
	}
}

// statusHolds says whether the node as last seen still carries the Ready
// condition this agent posted; the node lifecycle controller marks it
// Unknown when heartbeats were missed, and then it is posted again.
func (h *Host) statusHolds(name string, ready bool) bool {
	n, err := h.nodeL.Get(name)
	if err != nil {
		return false
	}
	want := corev1.ConditionFalse
	if ready {
		want = corev1.ConditionTrue
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == want
		}
	}
	return false
}
