package kubelet

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
)

// probeKind is a container probe's purpose.
type probeKind string

const (
	liveness  probeKind = "Liveness"
	readiness probeKind = "Readiness"
	startup   probeKind = "Startup"
)

// probeResult is what a probe last concluded about a container instance.
type probeResult int8

const (
	resultUnknown probeResult = iota
	resultSuccess
	resultFailure
)

type probeKey struct {
	uid       types.UID
	container string
	kind      probeKind
}

// probeCounter applies a probe's thresholds to its runs, as upstream:
// the result flips after successThreshold consecutive successes or
// failureThreshold consecutive failures.
type probeCounter struct {
	result              probeResult
	successes, failures int32
}

// observe records one run and says whether the result changed.
func (p *probeCounter) observe(ok bool, successThreshold, failureThreshold int32) bool {
	before := p.result
	if ok {
		p.failures = 0
		p.successes++
		if p.successes >= max(1, successThreshold) {
			p.result = resultSuccess
		}
	} else {
		p.successes = 0
		p.failures++
		if p.failures >= max(1, failureThreshold) {
			p.result = resultFailure
		}
	}
	return p.result != before
}

// probeWorker probes one container instance periodically.
type probeWorker struct {
	containerID string
	cancel      context.CancelFunc
	mu          sync.Mutex
	counter     probeCounter
	handled     bool // a liveness or startup failure was acted on
}

func (w *probeWorker) result() probeResult {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.counter.result
}

// prober runs the probes of the containers of non-simulated nodes.
type prober struct {
	h       *Host
	mu      sync.Mutex
	workers map[probeKey]*probeWorker
}

func newProber(h *Host) *prober {
	return &prober{h: h, workers: map[probeKey]*probeWorker{}}
}

// containerProbes lists a container's probes by kind.
func containerProbes(c *corev1.Container) map[probeKind]*corev1.Probe {
	out := map[probeKind]*corev1.Probe{}
	for kind, p := range map[probeKind]*corev1.Probe{liveness: c.LivenessProbe, readiness: c.ReadinessProbe, startup: c.StartupProbe} {
		if p != nil {
			out[kind] = p
		}
	}
	return out
}

// probedContainers are the containers probes apply to: the regular ones
// and the sidecars (init containers that keep running).
func probedContainers(pod *corev1.Pod) []*corev1.Container {
	var out []*corev1.Container
	for i := range pod.Spec.InitContainers {
		if c := &pod.Spec.InitContainers[i]; isSidecar(c) {
			out = append(out, c)
		}
	}
	for i := range pod.Spec.Containers {
		out = append(out, &pod.Spec.Containers[i])
	}
	return out
}

// sync starts workers for the running container instances that have
// probes and stops those of instances that are gone.
func (p *prober) sync(ctx context.Context, n *node, pod *corev1.Pod, states map[string]ContainerState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	want := map[probeKey]string{}
	for _, c := range probedContainers(pod) {
		st, ok := states[c.Name]
		if !ok || st.Exited {
			continue
		}
		for kind, probe := range containerProbes(c) {
			key := probeKey{pod.UID, c.Name, kind}
			want[key] = st.ID
			if w, ok := p.workers[key]; ok && w.containerID == st.ID {
				continue
			} else if ok {
				w.cancel()
			}
			wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
			w := &probeWorker{containerID: st.ID, cancel: cancel}
			p.workers[key] = w
			go p.run(wctx, n, w, key, c.DeepCopy(), probe.DeepCopy(), st.StartedAt)
		}
	}
	for key, w := range p.workers {
		if key.uid != pod.UID {
			continue
		}
		if id, ok := want[key]; !ok || id != w.containerID {
			w.cancel()
			delete(p.workers, key)
		}
	}
}

// forget stops the workers of a pod.
func (p *prober) forget(uid types.UID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for key, w := range p.workers {
		if key.uid == uid {
			w.cancel()
			delete(p.workers, key)
		}
	}
}

// result is the probe's result for the container instance; probes that
// the container does not have count as successful.
func (p *prober) result(uid types.UID, c *corev1.Container, containerID string, kind probeKind) probeResult {
	if containerProbes(c)[kind] == nil {
		return resultSuccess
	}
	p.mu.Lock()
	w := p.workers[probeKey{uid, c.Name, kind}]
	p.mu.Unlock()
	if w == nil || w.containerID != containerID {
		return resultUnknown
	}
	return w.result()
}

// failed lists the containers whose liveness or startup probe failed for
// good and were not acted on yet, marking them acted on.
func (p *prober) failed(uid types.UID) map[string]probeKind {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]probeKind{}
	for key, w := range p.workers {
		if key.uid != uid || key.kind == readiness {
			continue
		}
		w.mu.Lock()
		if w.counter.result == resultFailure && !w.handled {
			w.handled = true
			out[key.container] = key.kind
		}
		w.mu.Unlock()
	}
	return out
}

// run probes until ctx ends, a startup probe succeeds, or a liveness or
// startup probe fails for good.
func (p *prober) run(ctx context.Context, n *node, w *probeWorker, key probeKey, c *corev1.Container, probe *corev1.Probe, startedAt time.Time) {
	clk := p.h.cfg.Clock
	period := time.Duration(max(1, probe.PeriodSeconds)) * time.Second
	timeout := time.Duration(max(1, probe.TimeoutSeconds)) * time.Second
	if d := startedAt.Add(time.Duration(probe.InitialDelaySeconds) * time.Second).Sub(clk.Now()); d > 0 {
		select {
		case <-ctx.Done():
			return
		case <-clk.After(d):
		}
	}
	logger := klog.FromContext(ctx).WithValues("pod", key.uid, "container", key.container, "probe", key.kind)
	streamer, _ := n.cfg.Runtime.(Streamer)
	for {
		pod, err := p.h.podByUID(key.uid)
		if err != nil {
			return
		}
		// Liveness and readiness wait for the startup probe.
		if key.kind == startup || p.result(key.uid, c, w.containerID, startup) == resultSuccess {
			out, err := runAction(ctx, streamer, pod, c, probeAction(probe), timeout)
			if ctx.Err() != nil {
				return
			}
			var failure *actionFailure
			ok := err == nil
			if err != nil && !errors.As(err, &failure) {
				logger.V(2).Info("probe errored", "err", err)
			}
			if !ok {
				msg := err.Error()
				if failure != nil {
					msg = failure.msg
				}
				p.h.event(n, pod, corev1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", key.kind, msg)
			} else if out != "" {
				logger.V(4).Info("probe succeeded", "output", out)
			}
			success := probe.SuccessThreshold
			if key.kind != readiness {
				success = 1 // as validation requires
			}
			w.mu.Lock()
			changed := w.counter.observe(ok, success, probe.FailureThreshold)
			result := w.counter.result
			w.mu.Unlock()
			if changed {
				p.h.enqueueUID(key.uid)
			}
			if key.kind == startup && result == resultSuccess || key.kind != readiness && result == resultFailure {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-clk.After(period):
		}
	}
}

// probeFailureMessage is the Killing event's message, as upstream's.
func probeFailureMessage(container string, kind probeKind) string {
	if kind == startup {
		return fmt.Sprintf("Container %s failed startup probe, will be restarted", container)
	}
	return fmt.Sprintf("Container %s failed liveness probe, will be restarted", container)
}
