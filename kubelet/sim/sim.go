package sim

import (
	"context"
	"fmt"
	"math/big"
	"net"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/skiffhq/skiff/kubelet"
)

// Annotations a pod may carry to script its simulated containers.
const (
	// ExitAfter is a Go duration ("2s") after which each container exits.
	ExitAfter = "sim.skiff.dev/exit-after"
	// ExitCode is the code they exit with (default 0).
	ExitCode = "sim.skiff.dev/exit-code"
)

// Version is what simulated nodes report as their container runtime.
const Version = "sim://1.0.0"

// Runtime is a simulated runtime for one node. It is safe for concurrent use.
type Runtime struct {
	clock  clock.WithTickerAndDelayedExecution
	events chan types.UID

	mu     sync.Mutex
	pods   map[types.UID]*pod
	usedIP map[string]bool
	nextID uint64
}

type pod struct {
	ips        []string
	containers map[string]*kubelet.ContainerState
	timers     []clock.Timer
}

// New returns a simulated runtime whose time is clk.
func New(clk clock.WithTickerAndDelayedExecution) *Runtime {
	return &Runtime{clock: clk, events: make(chan types.UID, 256), pods: map[types.UID]*pod{}, usedIP: map[string]bool{}}
}

var _ kubelet.Runtime = (*Runtime)(nil)

// Version implements kubelet.Runtime.
func (r *Runtime) Version(context.Context) (string, error) { return Version, nil }

// Events implements kubelet.Runtime.
func (r *Runtime) Events() <-chan types.UID { return r.events }

// StartSandbox implements kubelet.Runtime: the pod gets the next free
// address of podCIDR after the gateway (.1).
func (r *Runtime) StartSandbox(_ context.Context, p *corev1.Pod, podCIDR string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if sp, ok := r.pods[p.UID]; ok {
		return sp.ips, nil
	}
	if p.Spec.HostNetwork {
		r.pods[p.UID] = &pod{containers: map[string]*kubelet.ContainerState{}}
		return nil, nil
	}
	// A pod that ran before (the agent restarted) keeps its address.
	ip := p.Status.PodIP
	if !r.inCIDR(ip, podCIDR) || r.usedIP[ip] {
		var err error
		if ip, err = r.allocate(podCIDR); err != nil {
			return nil, err
		}
	} else {
		r.usedIP[ip] = true
	}
	r.pods[p.UID] = &pod{ips: []string{ip}, containers: map[string]*kubelet.ContainerState{}}
	return []string{ip}, nil
}

func (r *Runtime) inCIDR(ip, podCIDR string) bool {
	_, cidr, err := net.ParseCIDR(podCIDR)
	addr := net.ParseIP(ip)
	return err == nil && addr != nil && cidr.Contains(addr) && !addr.Equal(cidr.IP)
}

func (r *Runtime) allocate(podCIDR string) (string, error) {
	_, cidr, err := net.ParseCIDR(podCIDR)
	if err != nil {
		return "", fmt.Errorf("node has no usable podCIDR %q: %w", podCIDR, err)
	}
	ones, bits := cidr.Mask.Size()
	size := new(big.Int).Lsh(big.NewInt(1), uint(bits-ones))
	base := new(big.Int).SetBytes(cidr.IP.To16())
	// Skip the network address and the gateway; leave out the broadcast.
	for off := int64(2); big.NewInt(off+1).Cmp(size) < 0; off++ {
		ip := net.IP(new(big.Int).Add(base, big.NewInt(off)).FillBytes(make([]byte, 16))).String()
		if !r.usedIP[ip] {
			r.usedIP[ip] = true
			return ip, nil
		}
	}
	return "", fmt.Errorf("podCIDR %s has no free addresses", podCIDR)
}

// StartContainer implements kubelet.Runtime.
func (r *Runtime) StartContainer(_ context.Context, p *corev1.Pod, c *corev1.Container, attempt int32, _ []kubelet.Mount) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	sp, ok := r.pods[p.UID]
	if !ok {
		return fmt.Errorf("pod %s has no sandbox", p.UID)
	}
	r.nextID++
	now := r.clock.Now()
	st := &kubelet.ContainerState{
		ID:        fmt.Sprintf("sim://%016x", r.nextID),
		ImageRef:  "sim://" + c.Image,
		Attempt:   attempt,
		StartedAt: now,
	}
	sp.containers[c.Name] = st
	after, code, err := exitScript(p)
	if err != nil {
		return err
	}
	isInit := false
	for i := range p.Spec.InitContainers {
		if p.Spec.InitContainers[i].Name == c.Name {
			isInit = c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways
		}
	}
	switch {
	case isInit:
		// Init containers do their work at once.
		exit(st, 0, now)
	case after >= 0:
		uid := p.UID
		sp.timers = append(sp.timers, r.clock.AfterFunc(after, func() {
			// Not inline: a fake clock runs this with its own lock held.
			go r.exitNow(uid, c.Name, st, code)
		}))
	}
	return nil
}

// exitNow ends a container's simulated process, unless it was replaced
// or stopped meanwhile, and reports the change.
func (r *Runtime) exitNow(uid types.UID, name string, st *kubelet.ContainerState, code int32) {
	r.mu.Lock()
	if cur, ok := r.pods[uid]; !ok || cur.containers[name] != st || st.Exited {
		r.mu.Unlock()
		return
	}
	exit(st, code, r.clock.Now())
	r.mu.Unlock()
	r.events <- uid
}

func exit(st *kubelet.ContainerState, code int32, at time.Time) {
	st.Exited, st.ExitCode, st.FinishedAt = true, code, at
	st.Reason = "Completed"
	if code != 0 {
		st.Reason = "Error"
	}
}

// exitScript reads the pod's sim annotations; after is negative when the
// containers run until stopped.
func exitScript(p *corev1.Pod) (time.Duration, int32, error) {
	after := time.Duration(-1)
	if v, ok := p.Annotations[ExitAfter]; ok {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return 0, 0, fmt.Errorf("annotation %s: %q is not a non-negative duration", ExitAfter, v)
		}
		after = d
	}
	var code int32
	if v, ok := p.Annotations[ExitCode]; ok {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 0 || n > 255 {
			return 0, 0, fmt.Errorf("annotation %s: %q is not an exit code between 0 and 255", ExitCode, v)
		}
		code = int32(n)
	}
	return after, code, nil
}

// Containers implements kubelet.Runtime.
func (r *Runtime) Containers(_ context.Context, p *corev1.Pod) (map[string]kubelet.ContainerState, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]kubelet.ContainerState{}
	if sp, ok := r.pods[p.UID]; ok {
		for name, st := range sp.containers {
			out[name] = *st
		}
	}
	return out, nil
}

// StopPod implements kubelet.Runtime: simulated processes exit on SIGTERM
// at once, with code 0.
func (r *Runtime) StopPod(_ context.Context, p *corev1.Pod, _ time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	sp, ok := r.pods[p.UID]
	if !ok {
		return nil
	}
	now := r.clock.Now()
	for _, st := range sp.containers {
		if !st.Exited {
			exit(st, 0, now)
		}
	}
	for _, t := range sp.timers {
		t.Stop()
	}
	sp.timers = nil
	return nil
}

// RemovePod implements kubelet.Runtime.
func (r *Runtime) RemovePod(_ context.Context, uid types.UID) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.release(uid)
	delete(r.pods, uid)
	return nil
}

// release stops a pod's timers and frees its IPs; the caller holds mu.
func (r *Runtime) release(uid types.UID) {
	sp, ok := r.pods[uid]
	if !ok {
		return
	}
	for _, t := range sp.timers {
		t.Stop()
	}
	sp.timers = nil
	for _, ip := range sp.ips {
		delete(r.usedIP, ip)
	}
	sp.ips = nil
}

// StopSandbox implements kubelet.Runtime: the pod's IPs are free again;
// its containers' final states stay until RemovePod.
func (r *Runtime) StopSandbox(_ context.Context, uid types.UID) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.release(uid)
	return nil
}

// StopContainer implements kubelet.Runtime: the container ends as if
// killed (137).
func (r *Runtime) StopContainer(_ context.Context, p *corev1.Pod, name string, _ time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if sp, ok := r.pods[p.UID]; ok {
		if st := sp.containers[name]; st != nil && !st.Exited {
			exit(st, 137, r.clock.Now())
		}
	}
	return nil
}
