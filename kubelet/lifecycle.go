package kubelet

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Back-off between restarts of a container, as the upstream kubelet's:
// the first exit restarts at once, then 10 s doubling per restart up to
// 5 minutes; an instance that ran for 10 minutes restarts at once again.
const (
	initialBackOff = 10 * time.Second
	maxBackOff     = 5 * time.Minute
	backOffReset   = 2 * maxBackOff
)

// backOff is the wait before restarting instance attempt that exited.
func backOff(attempt int32) time.Duration {
	if attempt == 0 {
		return 0
	}
	d := initialBackOff
	for i := int32(1); i < attempt && d < maxBackOff; i++ {
		d *= 2
	}
	return min(d, maxBackOff)
}

// restartDelay is backOff, reset for an instance that ran long.
func restartDelay(st ContainerState) time.Duration {
	if st.FinishedAt.Sub(st.StartedAt) >= backOffReset {
		return 0
	}
	return backOff(st.Attempt)
}

// plan is what a sync of a pod does next: containers to start (with
// their attempt number), and when to look again if a back-off or exit is
// pending.
type plan struct {
	start []startAction
	// backOff holds the containers waiting to restart, until when.
	backOff map[string]time.Time
	// requeue is the earliest time something waiting becomes due.
	requeue time.Time
}

type startAction struct {
	container *corev1.Container
	attempt   int32
	// target is the container whose process namespace an ephemeral
	// container joins (targetContainerName).
	target string
}

func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// shouldRestart says whether an exited container runs again under the
// pod's restart policy.
func shouldRestart(pod *corev1.Pod, c *corev1.Container, st ContainerState) bool {
	if isSidecar(c) {
		return true
	}
	switch pod.Spec.RestartPolicy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return st.ExitCode != 0
	default:
		return true
	}
}

// planPod decides what to start: init containers one at a time in order
// (a sidecar counts as done once running), then every regular container;
// exited containers restart after their back-off when the policy says so.
func planPod(pod *corev1.Pod, states map[string]ContainerState, now time.Time) plan {
	p := plan{backOff: map[string]time.Time{}}
	restart := func(c *corev1.Container, st ContainerState) {
		due := st.FinishedAt.Add(restartDelay(st))
		if now.Before(due) {
			p.backOff[c.Name] = due
			if p.requeue.IsZero() || due.Before(p.requeue) {
				p.requeue = due
			}
			return
		}
		p.start = append(p.start, startAction{container: c, attempt: st.Attempt + 1})
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		st, started := states[c.Name]
		switch {
		case !started:
			p.start = append(p.start, startAction{container: c})
			return p
		case !st.Exited:
			if isSidecar(c) {
				continue
			}
			return p
		case st.ExitCode == 0 && !isSidecar(c):
			continue
		case shouldRestart(pod, c, st):
			restart(c, st)
			return p
		default:
			return p // failed for good: the pod fails
		}
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		st, started := states[c.Name]
		switch {
		case !started:
			p.start = append(p.start, startAction{container: c})
		case st.Exited && shouldRestart(pod, c, st):
			restart(c, st)
		}
	}
	// Ephemeral containers (kubectl debug) run once, never restarted.
	for i := range pod.Spec.EphemeralContainers {
		ec := &pod.Spec.EphemeralContainers[i]
		if _, started := states[ec.Name]; !started {
			p.start = append(p.start, startAction{container: ephemeralContainer(ec), target: ec.TargetContainerName})
		}
	}
	return p
}

// ephemeralContainer is an ephemeral container as the runtime runs it.
func ephemeralContainer(ec *corev1.EphemeralContainer) *corev1.Container {
	c := corev1.Container(ec.EphemeralContainerCommon)
	return &c
}

// initDone says whether every init container finished (or, for a
// sidecar, is running), and whether one failed for good.
func initDone(pod *corev1.Pod, states map[string]ContainerState) (done, failed bool) {
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		st, started := states[c.Name]
		switch {
		case !started:
			return false, false
		case isSidecar(c):
			if st.Exited && !shouldRestart(pod, c, st) {
				return false, true
			}
		case !st.Exited:
			return false, false
		case st.ExitCode != 0:
			return false, !shouldRestart(pod, c, st)
		}
	}
	return true, false
}

// podPhase computes the phase as the upstream kubelet does. terminating
// is set for a pod being deleted whose containers have all stopped: it
// ends Succeeded or Failed whatever its restart policy.
func podPhase(pod *corev1.Pod, states map[string]ContainerState, p plan, terminating bool) corev1.PodPhase {
	done, failed := initDone(pod, states)
	if failed {
		return corev1.PodFailed
	}
	if !done && !terminating {
		return corev1.PodPending
	}
	var waiting, running, stopped, succeeded int
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		st, started := states[c.Name]
		switch {
		case !started:
			waiting++
		case !st.Exited:
			running++
		default:
			stopped++
			if st.ExitCode == 0 {
				succeeded++
			}
		}
	}
	switch {
	case waiting > 0 && !terminating:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case stopped > 0 || terminating:
		if terminating || pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			if stopped == succeeded && waiting == 0 {
				return corev1.PodSucceeded
			}
			return corev1.PodFailed
		}
		if pod.Spec.RestartPolicy == corev1.RestartPolicyOnFailure && stopped == succeeded {
			return corev1.PodSucceeded
		}
		return corev1.PodRunning // restarting
	}
	return corev1.PodPending
}

// statusInput is what the status of a pod is computed from.
type statusInput struct {
	states      map[string]ContainerState
	plan        plan
	podIPs      []string
	hostIPs     []string
	sandbox     bool
	terminating bool
	now         time.Time
	// waitReason explains containers not started yet when the sandbox is
	// missing (e.g. the node has no podCIDR yet).
	waitReason, waitMessage string
	// startErrors explain containers that could not be started, by name.
	startErrors map[string]*StartError
	// volumes are the pod's prepared volumes' paths on the node.
	volumes map[string]string
	// probe gives a container instance's probe results; without it (on
	// simulated nodes) running containers are started and ready.
	probe func(c *corev1.Container, containerID string, kind probeKind) probeResult
}

// podStatus builds the pod's status from the runtime's view, keeping the
// conditions' transition times when they did not change.
func podStatus(pod *corev1.Pod, in statusInput) corev1.PodStatus {
	old := pod.Status
	s := corev1.PodStatus{
		QOSClass:           old.QOSClass,
		NominatedNodeName:  old.NominatedNodeName,
		StartTime:          old.StartTime,
		ObservedGeneration: pod.Generation,
	}
	s.Phase = podPhase(pod, in.states, in.plan, in.terminating)
	if s.StartTime == nil {
		t := metav1.NewTime(in.now)
		s.StartTime = &t
	}
	for _, ip := range in.hostIPs {
		s.HostIPs = append(s.HostIPs, corev1.HostIP{IP: ip})
	}
	if len(in.hostIPs) > 0 {
		s.HostIP = in.hostIPs[0]
	}
	ips := in.podIPs
	if pod.Spec.HostNetwork {
		ips = in.hostIPs
	}
	for _, ip := range ips {
		s.PodIPs = append(s.PodIPs, corev1.PodIP{IP: ip})
	}
	if len(ips) > 0 {
		s.PodIP = ips[0]
	}
	if len(ips) == 0 && len(old.PodIPs) > 0 && (s.Phase == corev1.PodSucceeded || s.Phase == corev1.PodFailed) {
		s.PodIP, s.PodIPs = old.PodIP, old.PodIPs
	}
	terminal := s.Phase == corev1.PodSucceeded || s.Phase == corev1.PodFailed
	initialized, _ := initDone(pod, in.states)
	var notInit []string
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cs := containerStatus(pod, c, in, initialized)
		s.InitContainerStatuses = append(s.InitContainerStatuses, cs)
		if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 {
			if !(isSidecar(c) && cs.State.Running != nil) {
				notInit = append(notInit, c.Name)
			}
		}
	}
	var notReady []string
	for i := range pod.Spec.InitContainers {
		if c := &pod.Spec.InitContainers[i]; isSidecar(c) && !s.InitContainerStatuses[i].Ready {
			notReady = append(notReady, c.Name)
		}
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cs := containerStatus(pod, c, in, initialized)
		s.ContainerStatuses = append(s.ContainerStatuses, cs)
		if !cs.Ready {
			notReady = append(notReady, c.Name)
		}
	}

	for i := range pod.Spec.EphemeralContainers {
		cs := containerStatus(pod, ephemeralContainer(&pod.Spec.EphemeralContainers[i]), in, initialized)
		cs.Ready, cs.Started = false, nil // as upstream: not part of readiness
		if st, ok := in.states[cs.Name]; ok && !st.Exited {
			cs.Started = new(true)
		}
		s.EphemeralContainerStatuses = append(s.EphemeralContainerStatuses, cs)
	}
	conds := map[corev1.PodConditionType]corev1.PodCondition{}
	set := func(t corev1.PodConditionType, ok bool, reason, msg string) {
		st := corev1.ConditionFalse
		if ok {
			st, reason, msg = corev1.ConditionTrue, "", ""
		}
		conds[t] = corev1.PodCondition{Type: t, Status: st, Reason: reason, Message: msg, ObservedGeneration: pod.Generation}
	}
	set(corev1.PodReadyToStartContainers, in.sandbox && !terminal, "", "")
	if initialized || (terminal && len(notInit) == 0) {
		set(corev1.PodInitialized, true, "", "")
	} else {
		set(corev1.PodInitialized, false, "ContainersNotInitialized", fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(notInit, " ")))
	}
	switch {
	case terminal:
		set(corev1.ContainersReady, false, "PodCompleted", "")
		set(corev1.PodReady, false, "PodCompleted", "")
	case !initialized:
		msg := fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(notInit, " "))
		set(corev1.ContainersReady, false, "ContainersNotInitialized", msg)
		set(corev1.PodReady, false, "ContainersNotInitialized", msg)
	case len(notReady) > 0:
		msg := fmt.Sprintf("containers with unready status: [%s]", strings.Join(notReady, " "))
		set(corev1.ContainersReady, false, "ContainersNotReady", msg)
		set(corev1.PodReady, false, "ContainersNotReady", msg)
	default:
		set(corev1.ContainersReady, true, "", "")
		ready, reason, msg := readinessGates(pod)
		set(corev1.PodReady, ready, reason, msg)
	}
	// Conditions owned by others (PodScheduled, DisruptionTarget, gates)
	// stay as they are.
	for _, c := range old.Conditions {
		if _, ours := conds[c.Type]; !ours {
			s.Conditions = append(s.Conditions, c)
		}
	}
	for _, t := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.PodReady, corev1.ContainersReady} {
		c := conds[t]
		c.LastTransitionTime = metav1.NewTime(in.now)
		for _, o := range old.Conditions {
			if o.Type == t && o.Status == c.Status {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
		s.Conditions = append(s.Conditions, c)
	}
	sort.SliceStable(s.Conditions, func(i, j int) bool {
		return conditionOrder(s.Conditions[i].Type) < conditionOrder(s.Conditions[j].Type)
	})
	return s
}

func conditionOrder(t corev1.PodConditionType) int {
	order := []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.PodReady, corev1.ContainersReady, corev1.PodScheduled}
	if i := slices.Index(order, t); i >= 0 {
		return i
	}
	return len(order)
}

// readinessGates: a pod with readiness gates is Ready only when each
// gate's condition is True.
func readinessGates(pod *corev1.Pod) (bool, string, string) {
	var missing, notTrue []string
	for _, g := range pod.Spec.ReadinessGates {
		found := false
		for _, c := range pod.Status.Conditions {
			if c.Type == g.ConditionType {
				found = true
				if c.Status != corev1.ConditionTrue {
					notTrue = append(notTrue, string(g.ConditionType))
				}
			}
		}
		if !found {
			missing = append(missing, string(g.ConditionType))
		}
	}
	switch {
	case len(missing) > 0:
		return false, "ReadinessGatesNotReady", fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", missing[0])
	case len(notTrue) > 0:
		return false, "ReadinessGatesNotReady", fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but False", notTrue[0])
	}
	return true, "", ""
}

func terminatedState(st ContainerState) *corev1.ContainerStateTerminated {
	return &corev1.ContainerStateTerminated{ExitCode: st.ExitCode, Reason: st.Reason, Message: st.Message,
		StartedAt: metav1.NewTime(st.StartedAt), FinishedAt: metav1.NewTime(st.FinishedAt), ContainerID: st.ID}
}

func containerStatus(pod *corev1.Pod, c *corev1.Container, in statusInput, initialized bool) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image}
	st, started := in.states[c.Name]
	if prev := previousStatus(pod, c.Name); prev != nil && prev.LastTerminationState.Terminated != nil {
		cs.LastTerminationState = prev.LastTerminationState
	}
	isInit := false
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == c.Name {
			isInit = true
		}
	}
	switch {
	case !started:
		reason := "ContainerCreating"
		if !isInit && !initialized || isInit {
			reason = "PodInitializing"
		}
		if se := in.startErrors[c.Name]; se != nil {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: se.Reason, Message: se.Message}
		} else if in.waitReason != "" {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: in.waitReason, Message: in.waitMessage}
		} else {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason}
		}
		if in.terminating {
			cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "ContainerStatusUnknown",
				Message: "The container could not be located when the pod was terminated"}}
		}
		return cs
	}
	cs.ContainerID, cs.ImageID, cs.RestartCount = st.ID, st.ImageRef, st.Attempt
	switch prev := previousStatus(pod, c.Name); {
	case st.Last != nil && st.Last.Exited:
		cs.LastTerminationState = corev1.ContainerState{Terminated: terminatedState(*st.Last)}
	case prev != nil && prev.State.Terminated != nil && prev.State.Terminated.ContainerID != "" && prev.State.Terminated.ContainerID != st.ID:
		// The instance the last status showed as ended was replaced.
		cs.LastTerminationState = corev1.ContainerState{Terminated: prev.State.Terminated.DeepCopy()}
	}
	terminated := terminatedState(st)
	switch due, waiting := in.plan.backOff[c.Name]; {
	case !st.Exited:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(st.StartedAt)}
		started, ready := true, true
		if in.probe != nil {
			started = in.probe(c, st.ID, startup) == resultSuccess
			ready = started && in.probe(c, st.ID, readiness) == resultSuccess
		}
		cs.Started = new(started)
		cs.Ready = ready && !in.terminating
	case waiting:
		cs.LastTerminationState = corev1.ContainerState{Terminated: terminated}
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
			Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", due.Sub(st.FinishedAt).Round(time.Second), c.Name, pod.Name, pod.Namespace, pod.UID)}
		cs.Started = new(false)
	default:
		cs.State.Terminated = terminated
		cs.Started = new(false)
	}
	return cs
}

func previousStatus(pod *corev1.Pod, name string) *corev1.ContainerStatus {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses, pod.Status.EphemeralContainerStatuses} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}
