package kubelet

import (
	"context"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
)

// Runtime runs the containers of the pods bound to one node. The Host
// decides what to start and when (init order, restart policy, back-off);
// a Runtime only does it and reports what happened.
type Runtime interface {
	// Version is the runtime's name and version as nodes report it in
	// status.nodeInfo.containerRuntimeVersion, e.g. "sim://1.0".
	Version(ctx context.Context) (string, error)
	// StartSandbox prepares the pod's sandbox (its network namespace) and
	// returns the pod's IPs, the first one from podCIDR. It is idempotent:
	// a pod whose sandbox exists gets the same IPs again.
	StartSandbox(ctx context.Context, pod *corev1.Pod, podCIDR string) ([]string, error)
	// StartContainer creates and starts one of the pod's containers (init
	// or regular); attempt counts the restarts of that container so far.
	// The container's env is resolved to values; mounts are its volume
	// mounts resolved to paths on the node.
	StartContainer(ctx context.Context, pod *corev1.Pod, c *corev1.Container, attempt int32, mounts []Mount) error
	// Containers reports the latest instance of each container of the pod
	// that was ever started, by container name.
	Containers(ctx context.Context, pod *corev1.Pod) (map[string]ContainerState, error)
	// StopContainer stops the current instance of one of the pod's
	// containers (a failed liveness probe), killing it after grace.
	StopContainer(ctx context.Context, pod *corev1.Pod, name string, grace time.Duration) error
	// StopPod stops the pod's containers, killing those still running
	// after grace.
	StopPod(ctx context.Context, pod *corev1.Pod, grace time.Duration) error
	// StopSandbox releases the network (IPs, namespace) of a pod whose
	// containers all ended; the containers and their logs stay until
	// RemovePod. Stopping a pod without a sandbox is not an error.
	StopSandbox(ctx context.Context, uid types.UID) error
	// RemovePod removes the pod's containers and sandbox and releases its
	// IPs. Removing an unknown pod is not an error.
	RemovePod(ctx context.Context, uid types.UID) error
	// Events delivers the UIDs of pods whose containers changed state on
	// their own (a process exited), so their status is synced again.
	Events() <-chan types.UID
}

// ContainerState is what a Runtime knows about one container instance.
type ContainerState struct {
	// ID is the runtime's container ID, as "<runtime>://<id>".
	ID string
	// ImageRef is the resolved image (status.containerStatuses[].imageID).
	ImageRef string
	// Attempt is the restart count of this instance.
	Attempt   int32
	StartedAt time.Time
	// Exited is set once the process ended, with its exit code.
	Exited     bool
	ExitCode   int32
	Reason     string
	Message    string
	FinishedAt time.Time
	// Last is the instance before this one, when the runtime still has
	// it (status.containerStatuses[].lastState).
	Last *ContainerState
}

// StartError is a container that could not be started for a reason the
// pod's status shows as the container's waiting reason, as upstream's
// kubelet does: ErrImagePull, ErrImageNeverPull, InvalidImageName,
// CreateContainerConfigError, CreateContainerError, RunContainerError.
// The Host retries with back-off (for image pulls, ImagePullBackOff).
type StartError struct {
	Reason, Message string
}

func (e *StartError) Error() string { return e.Reason + ": " + e.Message }

// Reasons of StartError.
const (
	ReasonErrImagePull      = "ErrImagePull"
	ReasonErrImageNeverPull = "ErrImageNeverPull"
	ReasonInvalidImageName  = "InvalidImageName"
	ReasonImagePullBackOff  = "ImagePullBackOff"
	ReasonCreateConfigError = "CreateContainerConfigError"
	ReasonCreateError       = "CreateContainerError"
	ReasonRunError          = "RunContainerError"
)

// Streamer is implemented by runtimes whose containers are real
// processes: the node agent's server serves `kubectl logs`, `exec`,
// `attach` and `port-forward` through it.
type Streamer interface {
	// LogFile is the CRI-format log of the pod's container instance with
	// that ID (as in status.containerStatuses[].containerID), and whether
	// the instance still writes to it.
	LogFile(ctx context.Context, pod *corev1.Pod, containerID string) (path string, running func() bool, err error)
	// Exec runs cmd in the container; a command that exits non-zero
	// returns a k8s.io/utils/exec.ExitError.
	Exec(ctx context.Context, pod *corev1.Pod, container string, cmd []string, stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error
	// Attach connects to the running container's stdio until it exits or
	// ctx ends.
	Attach(ctx context.Context, pod *corev1.Pod, container string, stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error
	// PortForward connects stream to the port on the pod's loopback.
	PortForward(ctx context.Context, pod *corev1.Pod, port int32, stream io.ReadWriteCloser) error
}

// NotFoundError is a container or instance the runtime does not have;
// the server answers 404 (or 400 where upstream does).
type NotFoundError struct{ Message string }

func (e *NotFoundError) Error() string { return e.Message }

// Usage is a container's resource use from its cgroup, as the node's
// /stats/summary reports it.
type Usage struct {
	Time time.Time
	// CPUNanoSeconds is the CPU time used since the container started.
	CPUNanoSeconds uint64
	// Memory: usage, working set (usage less inactive file pages, as
	// upstream), RSS, page faults.
	MemoryBytes, WorkingSetBytes, RSSBytes uint64
	PageFaults, MajorPageFaults            uint64
}

// UsageProvider is implemented by runtimes whose containers have cgroups.
type UsageProvider interface {
	// Usage reports the resource use of the pod's running containers, by
	// container name.
	Usage(ctx context.Context, pod *corev1.Pod) (map[string]Usage, error)
}

type processTargetKey struct{}

// WithProcessTarget asks StartContainer to put the container into the
// process namespace of another container of the pod (an ephemeral
// container's targetContainerName).
func WithProcessTarget(ctx context.Context, container string) context.Context {
	return context.WithValue(ctx, processTargetKey{}, container)
}

// ProcessTarget is the container named by WithProcessTarget, if any.
func ProcessTarget(ctx context.Context) string {
	s, _ := ctx.Value(processTargetKey{}).(string)
	return s
}

// ClusterDNS is what pods with dnsPolicy ClusterFirst resolve with: the
// cluster DNS Service's addresses and the cluster domain.
type ClusterDNS struct {
	Servers []string
	Domain  string
}

type clusterDNSKey struct{}

// WithClusterDNS hands the cluster's DNS settings to StartContainer.
func WithClusterDNS(ctx context.Context, d ClusterDNS) context.Context {
	return context.WithValue(ctx, clusterDNSKey{}, d)
}

// ClusterDNSFrom is what WithClusterDNS put in ctx (no servers when the
// cluster has no DNS).
func ClusterDNSFrom(ctx context.Context) ClusterDNS {
	d, _ := ctx.Value(clusterDNSKey{}).(ClusterDNS)
	return d
}
