package containerd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	apievents "github.com/containerd/containerd/api/events"
	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	containerdcio "github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/continuity"
	"github.com/containerd/errdefs"
	"github.com/containerd/platforms"
	"github.com/containerd/typeurl/v2"
	"github.com/distribution/reference"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/skiffhq/skiff/kubelet"
	"github.com/skiffhq/skiff/kubelet/network"
)

// Labels on the containers skiff creates, named as upstream's CRI names
// them, so that `ctr -n k8s.io containers ls` reads familiarly.
const (
	labelPodUID       = "io.kubernetes.pod.uid"
	labelPodName      = "io.kubernetes.pod.name"
	labelPodNamespace = "io.kubernetes.pod.namespace"
	labelContainer    = "io.kubernetes.container.name"
	labelAttempt      = "skiff.dev/attempt"
	labelStartedAt    = "skiff.dev/started-at"
	// labelStdin marks containers with stdin: "open", or "once" for
	// stdinOnce.
	labelStdin = "skiff.dev/stdin"
)

// runcRuntime is the shim containerd runs containers with.
const runcRuntime = "io.containerd.runc.v2"

// Config says where the runtime finds containerd and keeps its state.
type Config struct {
	// Address is containerd's socket.
	Address string
	// StateDir holds the pods' network namespaces, network state and
	// container logs.
	StateDir string
	// Bridge names the pods' bridge (network.DefaultBridge when empty).
	Bridge string
}

// Runtime is a kubelet.Runtime that runs pods' containers in containerd,
// each pod in a network namespace of its own wired by CNI.
type Runtime struct {
	cfg    Config
	client *containerd.Client
	events chan types.UID

	mu      sync.Mutex
	cni     *network.CNI
	cniCIDR string
	ips     map[types.UID][]string
	pods    map[string]types.UID    // container ID → pod
	oomed   map[string]bool         // container IDs the kernel OOM-killed
	ios     map[string]*containerIO // container ID → its stdio
	ctx     context.Context         // the runtime's lifetime
}

var _ kubelet.Runtime = (*Runtime)(nil)

// New connects to containerd and follows its task events until ctx ends.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	c, _, err := Connect(ctx, cfg.Address)
	if err != nil {
		return nil, err
	}
	r := &Runtime{cfg: cfg, client: c, events: make(chan types.UID, 1024), ips: map[types.UID][]string{},
		pods: map[string]types.UID{}, oomed: map[string]bool{}, ios: map[string]*containerIO{}, ctx: ctx}
	if err := r.reopenIO(ctx); err != nil {
		c.Close()
		return nil, err
	}
	go r.watchEvents(ctx)
	return r, nil
}

// reopenIO goes on copying the output of the containers that run from
// before a restart (adoption): their FIFOs are where StartContainer made
// them.
func (r *Runtime) reopenIO(ctx context.Context) error {
	ctx = r.ns(ctx)
	list, err := r.client.Containers(ctx, fmt.Sprintf(`labels."%s"`, labelPodUID))
	if err != nil {
		return fmt.Errorf("listing containers: %w", err)
	}
	for _, c := range list {
		info, err := c.Info(ctx, containerd.WithoutRefreshedMetadata)
		if err != nil {
			continue
		}
		task, err := c.Task(ctx, nil)
		if err != nil {
			continue
		}
		if st, err := task.Status(ctx); err != nil || st.Status == containerd.Stopped {
			continue // an exited process writes nothing more
		}
		paths := r.ioPaths(types.UID(info.Labels[labelPodUID]), info.Labels[labelContainer], info.Labels[labelAttempt])
		spec, err := c.Spec(ctx)
		if err != nil || spec.Process == nil {
			continue
		}
		fifos := paths.fifos(info.Labels[labelStdin] != "", spec.Process.Terminal)
		if _, err := os.Stat(fifos.Stdout); err != nil {
			continue
		}
		cio, err := openIO(r.ctx, fifos, paths.log(), info.Labels[labelStdin] == "once")
		if err != nil {
			return fmt.Errorf("reopening the output of container %s: %w", c.ID(), err)
		}
		r.ios[c.ID()] = cio
		r.pods[c.ID()] = types.UID(info.Labels[labelPodUID])
	}
	return nil
}

func (r *Runtime) ioPaths(uid types.UID, name, attempt string) ioPaths {
	a, _ := strconv.Atoi(attempt)
	return ioPaths{dir: filepath.Join(r.podDir(uid), name), attempt: int32(a)}
}

// Close stops copying the containers' output and disconnects from
// containerd; containers keep running, and a new Runtime on the same
// state dir goes on where this one stopped.
func (r *Runtime) Close() error {
	r.mu.Lock()
	ios := r.ios
	r.ios = map[string]*containerIO{}
	r.mu.Unlock()
	for _, cio := range ios {
		cio.close()
	}
	return r.client.Close()
}

func (r *Runtime) ns(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, Namespace)
}

// Version implements kubelet.Runtime.
func (r *Runtime) Version(ctx context.Context) (string, error) {
	v, err := r.client.Version(r.ns(ctx))
	if err != nil {
		return "", err
	}
	return "containerd://" + v.Version, nil
}

// Events implements kubelet.Runtime.
func (r *Runtime) Events() <-chan types.UID { return r.events }

func (r *Runtime) watchEvents(ctx context.Context) {
	logger := klog.FromContext(ctx).WithName("containerd")
	for ctx.Err() == nil {
		envelopes, errs := r.client.Subscribe(r.ns(ctx), `topic=="/tasks/exit"`, `topic=="/tasks/oom"`)
	loop:
		for {
			select {
			case <-ctx.Done():
				return
			case err := <-errs:
				if ctx.Err() == nil {
					logger.V(2).Info("event stream ended; resubscribing", "err", err)
				}
				break loop
			case e := <-envelopes:
				if e == nil || e.Event == nil {
					continue
				}
				v, err := typeurl.UnmarshalAny(e.Event)
				if err != nil {
					continue
				}
				// An exit, or an OOM kill (its event may come after the
				// exit's), changes the container's status.
				var id string
				switch ev := v.(type) {
				case *apievents.TaskOOM:
					r.mu.Lock()
					r.oomed[ev.ContainerID] = true
					r.mu.Unlock()
					id = ev.ContainerID
				case *apievents.TaskExit:
					id = ev.ContainerID
				}
				if id == "" {
					continue
				}
				if uid, ok := r.podOf(ctx, id); ok {
					select {
					case r.events <- uid:
					default: // the host resyncs pods on its own too
					}
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (r *Runtime) podOf(ctx context.Context, id string) (types.UID, bool) {
	r.mu.Lock()
	uid, ok := r.pods[id]
	r.mu.Unlock()
	if ok {
		return uid, true
	}
	c, err := r.client.LoadContainer(r.ns(ctx), id)
	if err != nil {
		return "", false
	}
	labels, err := c.Labels(r.ns(ctx))
	if err != nil || labels[labelPodUID] == "" {
		return "", false
	}
	return types.UID(labels[labelPodUID]), true
}

// SeccompDir holds the Localhost seccomp profiles pods may name.
func (r *Runtime) SeccompDir() string { return filepath.Join(r.cfg.StateDir, "seccomp") }

func (r *Runtime) podDir(uid types.UID) string {
	return filepath.Join(r.cfg.StateDir, "pods", string(uid))
}
func (r *Runtime) netnsPath(uid types.UID) string {
	return filepath.Join(r.cfg.StateDir, "netns", string(uid))
}

// StartSandbox implements kubelet.Runtime: the pod's network namespace,
// attached to the node's bridge. The addresses are kept in the pod's
// directory, so a restarted agent finds the same ones.
func (r *Runtime) StartSandbox(ctx context.Context, pod *corev1.Pod, podCIDR string) ([]string, error) {
	if pod.Spec.HostNetwork {
		return nil, nil
	}
	r.mu.Lock()
	ips, ok := r.ips[pod.UID]
	r.mu.Unlock()
	if ok {
		return ips, nil
	}
	cni, err := r.network(podCIDR)
	if err != nil {
		return nil, err
	}

	if sb, err := r.loadSandbox(pod.UID); err == nil && len(sb.IPs) > 0 && sb.PodCIDR == podCIDR {
		if _, err := os.Stat(r.netnsPath(pod.UID)); err == nil {
			r.remember(pod.UID, sb.IPs)
			return sb.IPs, nil
		}
	}
	nsPath := r.netnsPath(pod.UID)
	_ = network.RemoveNetNS(nsPath) // a half-made one of an earlier attempt
	if err := network.NewNetNS(nsPath); err != nil {
		return nil, err
	}
	ips, err = cni.Setup(ctx, r.attachment(pod))
	if err != nil {
		_ = cni.Teardown(ctx, r.attachment(pod))
		_ = network.RemoveNetNS(nsPath)
		return nil, err
	}
	if err := os.MkdirAll(r.podDir(pod.UID), 0o700); err != nil {
		return nil, err
	}
	data, _ := json.Marshal(sandbox{IPs: ips, PodCIDR: podCIDR, Attachment: r.attachment(pod)})
	// Atomically: a torn record after a crash would make the next start
	// replace the netns the pod's running containers are in.
	if err := continuity.AtomicWriteFile(r.sandboxFile(pod.UID), data, 0o600); err != nil {
		return nil, err
	}
	r.remember(pod.UID, ips)
	return ips, nil
}

// sandbox is what the runtime keeps of a pod's network in its directory,
// for a restarted agent.
type sandbox struct {
	IPs     []string `json:"ips"`
	PodCIDR string   `json:"podCIDR"`
	// Attachment is what CNI was given, which its DEL needs again (the
	// portmap plugin removes host ports only when told which).
	Attachment network.Pod `json:"attachment"`
}

func (r *Runtime) sandboxFile(uid types.UID) string {
	return filepath.Join(r.podDir(uid), "sandbox.json")
}

func (r *Runtime) loadSandbox(uid types.UID) (sandbox, error) {
	var sb sandbox
	data, err := os.ReadFile(r.sandboxFile(uid))
	if err == nil {
		err = json.Unmarshal(data, &sb)
	}
	return sb, err
}

// network returns the CNI configuration for podCIDR.
func (r *Runtime) network(podCIDR string) (*network.CNI, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cni == nil || r.cniCIDR != podCIDR {
		cni, err := network.NewCNI(podCIDR, r.cfg.Bridge, filepath.Join(r.cfg.StateDir, "cni"))
		if err != nil {
			return nil, err
		}
		if err := network.SyncMasquerade(r.ctx, r.cfg.Bridge, podCIDR); err != nil {
			return nil, err
		}
		r.cni, r.cniCIDR = cni, podCIDR
	}
	return r.cni, nil
}

func (r *Runtime) remember(uid types.UID, ips []string) {
	r.mu.Lock()
	r.ips[uid] = ips
	r.mu.Unlock()
}

func (r *Runtime) attachment(pod *corev1.Pod) network.Pod {
	p := network.Pod{ID: string(pod.UID), NetNS: r.netnsPath(pod.UID), Namespace: pod.Namespace, Name: pod.Name}
	for _, c := range pod.Spec.Containers {
		for _, port := range c.Ports {
			if port.HostPort > 0 {
				p.HostPorts = append(p.HostPorts, network.PortMapping{HostPort: port.HostPort, ContainerPort: port.ContainerPort,
					Protocol: strings.ToLower(string(port.Protocol)), HostIP: port.HostIP})
			}
		}
	}
	return p
}

// containerID names a container instance within containerd's 76
// characters: a hash of the pod UID and container name, and the attempt.
func containerID(uid types.UID, name string, attempt int32) string {
	sum := sha256.Sum256([]byte(string(uid) + "/" + name))
	return hex.EncodeToString(sum[:16]) + "-" + strconv.Itoa(int(attempt))
}

// ImageRef normalizes an image name as upstream does ("busybox" is
// docker.io/library/busybox:latest).
func ImageRef(image string) (string, error) {
	named, err := reference.ParseDockerRef(image)
	if err != nil {
		return "", fmt.Errorf("invalid image name %q: %w", image, err)
	}
	return named.String(), nil
}

// StartContainer implements kubelet.Runtime.
func (r *Runtime) StartContainer(ctx context.Context, pod *corev1.Pod, c *corev1.Container, attempt int32, mounts []kubelet.Mount) error {
	ctx = r.ns(ctx)
	img, err := r.ensureImage(ctx, c)
	if err != nil {
		return err
	}
	id := containerID(pod.UID, c.Name, attempt)
	if old, err := r.client.LoadContainer(ctx, id); err == nil {
		// Left by a start that failed half-way.
		if t, err := old.Task(ctx, nil); err == nil {
			_, _ = t.Delete(ctx, containerd.WithProcessKill)
		}
		if err := old.Delete(ctx, containerd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("removing the previous container %s: %w", id, err)
		}
	}
	opts := []oci.SpecOpts{oci.WithImageConfig(img)}
	switch {
	case len(c.Command) > 0:
		opts = append(opts, oci.WithProcessArgs(append(append([]string(nil), c.Command...), c.Args...)...))
	case len(c.Args) > 0:
		opts = append(opts, oci.WithImageConfigArgs(img, c.Args))
	}
	if c.WorkingDir != "" {
		opts = append(opts, oci.WithProcessCwd(c.WorkingDir))
	}
	var env []string
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			return &kubelet.StartError{Reason: kubelet.ReasonCreateConfigError, Message: fmt.Sprintf("env %s: valueFrom is not supported by this node yet", e.Name)}
		}
		env = append(env, e.Name+"="+e.Value)
	}
	if len(env) > 0 {
		opts = append(opts, oci.WithEnv(env))
	}
	cluster := kubelet.ClusterDNSFrom(ctx)
	if pod.Spec.HostNetwork {
		opts = append(opts, oci.WithHostNamespace(specs.NetworkNamespace), oci.WithHostHostsFile)
		if usesClusterDNS(pod) && len(cluster.Servers) > 0 {
			m, err := r.resolvMount(pod, cluster)
			if err != nil {
				return &kubelet.StartError{Reason: kubelet.ReasonCreateError, Message: fmt.Sprintf("writing the pod's /etc/resolv.conf: %v", err)}
			}
			opts = append(opts, oci.WithMounts([]specs.Mount{m}))
		} else {
			opts = append(opts, oci.WithHostResolvconf)
		}
	} else {
		r.mu.Lock()
		ips := r.ips[pod.UID]
		r.mu.Unlock()
		mounts, err := r.etcMounts(pod, ips, cluster)
		if err != nil {
			return &kubelet.StartError{Reason: kubelet.ReasonCreateError, Message: fmt.Sprintf("writing the pod's /etc files: %v", err)}
		}
		opts = append(opts, oci.WithHostname(podHostname(pod)), oci.WithMounts(mounts),
			oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: r.netnsPath(pod.UID)}))
	}
	if target := kubelet.ProcessTarget(ctx); target != "" {
		_, task, err := r.runningInstance(ctx, pod, target)
		if err != nil {
			return &kubelet.StartError{Reason: kubelet.ReasonCreateError, Message: fmt.Sprintf("target container %q is not running", target)}
		}
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.PIDNamespace, Path: fmt.Sprintf("/proc/%d/ns/pid", task.Pid())}))
	}
	opts = append(opts, resourceOpts(c)...)
	if len(mounts) > 0 {
		var specMounts []specs.Mount
		for _, m := range mounts {
			mode := "rw"
			if m.ReadOnly {
				mode = "ro"
			}
			specMounts = append(specMounts, specs.Mount{Destination: m.ContainerPath, Type: "bind", Source: m.HostPath, Options: []string{"rbind", "rprivate", mode}})
		}
		opts = append(opts, oci.WithMounts(specMounts))
	}
	sec, err := securityOpts(pod, c, r.SeccompDir())
	if err != nil {
		return err
	}
	opts = append(opts, sec...)
	if c.TTY {
		opts = append(opts, oci.WithTTY)
	}
	labels := map[string]string{
		labelPodUID: string(pod.UID), labelPodName: pod.Name, labelPodNamespace: pod.Namespace,
		labelContainer: c.Name, labelAttempt: strconv.Itoa(int(attempt)),
	}
	switch {
	case c.Stdin && c.StdinOnce:
		labels[labelStdin] = "once"
	case c.Stdin:
		labels[labelStdin] = "open"
	}
	container, err := r.client.NewContainer(ctx, id,
		containerd.WithImage(img),
		containerd.WithSnapshotter(Snapshotter),
		containerd.WithNewSnapshot(id, img),
		containerd.WithRuntime(runcRuntime, nil),
		containerd.WithContainerLabels(labels),
		containerd.WithNewSpec(opts...))
	if err != nil {
		return &kubelet.StartError{Reason: kubelet.ReasonCreateError, Message: fmt.Sprintf("creating container %s: %v", c.Name, err)}
	}
	r.mu.Lock()
	r.pods[id] = pod.UID
	r.mu.Unlock()
	paths := ioPaths{dir: filepath.Join(r.podDir(pod.UID), c.Name), attempt: attempt}
	if err := os.MkdirAll(paths.dir, 0o700); err != nil {
		return err
	}
	cio, err := openIO(r.ctx, paths.fifos(c.Stdin, c.TTY), paths.log(), c.StdinOnce)
	if err != nil {
		_ = container.Delete(ctx, containerd.WithSnapshotCleanup)
		return fmt.Errorf("opening the stdio of container %s: %w", c.Name, err)
	}
	task, err := container.NewTask(ctx, func(string) (containerdcio.IO, error) { return cio.dio, nil })
	if err != nil {
		cio.close()
		_ = container.Delete(ctx, containerd.WithSnapshotCleanup)
		return &kubelet.StartError{Reason: kubelet.ReasonRunError, Message: fmt.Sprintf("starting container %s: %v", c.Name, err)}
	}
	r.mu.Lock()
	r.ios[id] = cio
	r.mu.Unlock()
	if err := task.Start(ctx); err != nil {
		_, _ = task.Delete(ctx, containerd.WithProcessKill)
		_ = container.Delete(ctx, containerd.WithSnapshotCleanup)
		r.forgetIO(id)
		return &kubelet.StartError{Reason: kubelet.ReasonRunError, Message: fmt.Sprintf("starting container %s: %v", c.Name, err)}
	}
	if _, err := container.SetLabels(ctx, map[string]string{labelStartedAt: time.Now().UTC().Format(time.RFC3339Nano)}); err != nil {
		return fmt.Errorf("labelling container %s: %w", c.Name, err)
	}
	return r.removeOldAttempts(ctx, pod.UID, c.Name, attempt)
}

// removeOldAttempts keeps the instance before attempt (its status is
// lastState, its log `kubectl logs --previous`) and removes older ones
// with their logs, as upstream's container garbage collection.
func (r *Runtime) removeOldAttempts(ctx context.Context, uid types.UID, name string, attempt int32) error {
	list, err := r.podContainers(ctx, uid)
	if err != nil {
		return err
	}
	for _, c := range list {
		info, err := c.Info(ctx, containerd.WithoutRefreshedMetadata)
		if err != nil || info.Labels[labelContainer] != name {
			continue
		}
		a, err := strconv.Atoi(info.Labels[labelAttempt])
		if err != nil || int32(a) >= attempt-1 {
			continue
		}
		if err := r.removeContainer(ctx, c); err != nil {
			return err
		}
		paths := ioPaths{dir: filepath.Join(r.podDir(uid), name), attempt: int32(a)}
		files, _ := filepath.Glob(paths.path(".log.*")) // rotated logs
		for _, suffix := range []string{".log", ".stdin", ".stdout", ".stderr"} {
			files = append(files, paths.path(suffix))
		}
		for _, f := range files {
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// removeContainer deletes one container instance with its task.
func (r *Runtime) removeContainer(ctx context.Context, c containerd.Container) error {
	if task, err := c.Task(ctx, nil); err == nil {
		if _, err := task.Delete(ctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
	}
	if err := c.Delete(ctx, containerd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	r.forgetIO(c.ID())
	r.mu.Lock()
	delete(r.pods, c.ID())
	delete(r.oomed, c.ID())
	r.mu.Unlock()
	return nil
}

// forgetIO stops copying an instance's output.
func (r *Runtime) forgetIO(id string) {
	r.mu.Lock()
	cio := r.ios[id]
	delete(r.ios, id)
	r.mu.Unlock()
	if cio != nil {
		cio.close()
	}
}

// pullTimeout bounds one image pull.
const pullTimeout = 5 * time.Minute

// ensureImage finds the container's image, pulling it as its
// imagePullPolicy says (Always, IfNotPresent, Never), as upstream.
func (r *Runtime) ensureImage(ctx context.Context, c *corev1.Container) (containerd.Image, error) {
	ref, err := ImageRef(c.Image)
	if err != nil {
		return nil, &kubelet.StartError{Reason: kubelet.ReasonInvalidImageName, Message: fmt.Sprintf("Failed to apply default image tag %q: %v", c.Image, err)}
	}
	img, err := r.client.GetImage(ctx, ref)
	present := err == nil
	if err != nil && !errdefs.IsNotFound(err) {
		return nil, err
	}
	switch c.ImagePullPolicy {
	case corev1.PullNever:
		if !present {
			return nil, &kubelet.StartError{Reason: kubelet.ReasonErrImageNeverPull, Message: fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)}
		}
		return img, nil
	case corev1.PullIfNotPresent:
		if present {
			return img, nil
		}
	}
	pctx, cancel := context.WithTimeout(ctx, pullTimeout)
	defer cancel()
	// The pod's imagePullSecrets log in; localhost registries may be
	// plain HTTP, as containerd's default resolver allows.
	resolver := docker.NewResolver(docker.ResolverOptions{Hosts: docker.ConfigureDefaultRegistries(
		docker.WithPlainHTTP(docker.MatchLocalhost),
		docker.WithAuthorizer(docker.NewDockerAuthorizer(docker.WithAuthCreds(func(host string) (string, string, error) {
			c, _ := kubelet.PullCredentialsFor(ctx, host)
			return c.Username, c.Password, nil
		}))))})
	pulled, err := r.client.Pull(pctx, ref, containerd.WithPullUnpack, containerd.WithPullSnapshotter(Snapshotter),
		containerd.WithPlatformMatcher(platforms.Default()), containerd.WithResolver(resolver))
	if err != nil {
		return nil, &kubelet.StartError{Reason: kubelet.ReasonErrImagePull, Message: fmt.Sprintf("failed to pull and unpack image %q: %v", ref, err)}
	}
	return pulled, nil
}

// podContainers lists the pod's container instances.
func (r *Runtime) podContainers(ctx context.Context, uid types.UID) ([]containerd.Container, error) {
	return r.client.Containers(ctx, fmt.Sprintf(`labels."%s"==%s`, labelPodUID, uid))
}

// Containers implements kubelet.Runtime.
func (r *Runtime) Containers(ctx context.Context, pod *corev1.Pod) (map[string]kubelet.ContainerState, error) {
	ctx = r.ns(ctx)
	list, err := r.podContainers(ctx, pod.UID)
	if err != nil {
		return nil, err
	}
	byName := map[string][]kubelet.ContainerState{}
	for _, c := range list {
		info, err := c.Info(ctx, containerd.WithoutRefreshedMetadata)
		if err != nil {
			continue
		}
		name := info.Labels[labelContainer]
		attempt, _ := strconv.Atoi(info.Labels[labelAttempt])
		started, err := time.Parse(time.RFC3339Nano, info.Labels[labelStartedAt])
		if err != nil {
			continue // never started
		}
		st := kubelet.ContainerState{ID: "containerd://" + c.ID(), ImageRef: r.imageRef(ctx, info.Image), Attempt: int32(attempt), StartedAt: started}
		task, err := c.Task(ctx, nil)
		switch {
		case errdefs.IsNotFound(err):
			st.Exited, st.ExitCode, st.Reason, st.FinishedAt = true, 255, "Unknown", started
		case err != nil:
			return nil, err
		default:
			status, err := task.Status(ctx)
			if err != nil {
				return nil, err
			}
			if status.Status == containerd.Stopped {
				st.Exited, st.ExitCode, st.FinishedAt = true, int32(status.ExitStatus), status.ExitTime
				st.Reason = "Completed"
				if st.ExitCode != 0 {
					st.Reason = "Error"
				}
				r.mu.Lock()
				if r.oomed[c.ID()] {
					st.Reason = "OOMKilled"
				}
				r.mu.Unlock()
			}
		}
		byName[name] = append(byName[name], st)
	}
	out := map[string]kubelet.ContainerState{}
	for name, list := range byName {
		slices.SortFunc(list, func(a, b kubelet.ContainerState) int { return int(b.Attempt - a.Attempt) })
		st := list[0]
		if len(list) > 1 {
			st.Last = &list[1]
		}
		out[name] = st
	}
	return out, nil
}

// imageRef is the image's name by digest, as status.containerStatuses[].imageID.
func (r *Runtime) imageRef(ctx context.Context, name string) string {
	img, err := r.client.ImageService().Get(ctx, name)
	if err != nil {
		return name
	}
	repo := name
	if named, err := reference.ParseNormalizedNamed(name); err == nil {
		repo = named.Name()
	}
	return repo + "@" + img.Target.Digest.String()
}

// StopPod implements kubelet.Runtime: SIGTERM to every running
// container, SIGKILL to those still running after grace.
func (r *Runtime) StopPod(ctx context.Context, pod *corev1.Pod, grace time.Duration) error {
	ctx = r.ns(ctx)
	list, err := r.podContainers(ctx, pod.UID)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(list))
	for i, c := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = stopTask(ctx, c, grace)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func stopTask(ctx context.Context, c containerd.Container, grace time.Duration) error {
	task, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	status, err := task.Status(ctx)
	if err != nil || status.Status == containerd.Stopped {
		return nil
	}
	exited, err := task.Wait(ctx)
	if err != nil {
		return err
	}
	if grace > 0 {
		if err := task.Kill(ctx, syscall.SIGTERM); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
		select {
		case <-exited:
			return nil
		case <-time.After(grace):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := task.Kill(ctx, syscall.SIGKILL); err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RemovePod implements kubelet.Runtime.
func (r *Runtime) RemovePod(ctx context.Context, uid types.UID) error {
	ctx = r.ns(ctx)
	list, err := r.podContainers(ctx, uid)
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range list {
		if err := r.removeContainer(ctx, c); err != nil {
			errs = append(errs, err)
		}
	}
	// The network goes even if a container would not: a pod's IP and
	// namespace must not outlive it. Its files go once nothing is left.
	if err := r.StopSandbox(ctx, uid); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return os.RemoveAll(r.podDir(uid))
}

// StopSandbox implements kubelet.Runtime: the pod's network goes (CNI
// teardown, namespace), its containers and logs stay.
func (r *Runtime) StopSandbox(ctx context.Context, uid types.UID) error {
	r.mu.Lock()
	delete(r.ips, uid)
	r.mu.Unlock()
	nsPath := r.netnsPath(uid)
	if sb, err := r.loadSandbox(uid); err == nil {
		cni, err := r.network(sb.PodCIDR)
		if err != nil {
			return err
		}
		att := sb.Attachment
		att.ID, att.NetNS = string(uid), nsPath
		if err := cni.Teardown(ctx, att); err != nil {
			return err
		}
		if err := os.Remove(r.sandboxFile(uid)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return network.RemoveNetNS(nsPath)
}

// RemoveAll removes every pod this runtime ran (containers, network,
// files) and the pod bridge: what `skiff agent --cleanup` does to a node
// whose agent is stopped.
func (r *Runtime) RemoveAll(ctx context.Context) error {
	cctx := r.ns(ctx)
	list, err := r.client.Containers(cctx, fmt.Sprintf(`labels."%s"`, labelPodUID))
	if err != nil {
		return fmt.Errorf("listing containers: %w", err)
	}
	uids := map[types.UID]bool{}
	for _, c := range list {
		if labels, err := c.Labels(cctx); err == nil {
			uids[types.UID(labels[labelPodUID])] = true
		}
	}
	// Pods whose containers are gone may still hold a network namespace.
	if entries, err := os.ReadDir(filepath.Join(r.cfg.StateDir, "pods")); err == nil {
		for _, e := range entries {
			uids[types.UID(e.Name())] = true
		}
	}
	if entries, err := os.ReadDir(filepath.Join(r.cfg.StateDir, "netns")); err == nil {
		for _, e := range entries {
			uids[types.UID(e.Name())] = true
		}
	}
	var errs []error
	for uid := range uids {
		if err := r.RemovePod(ctx, uid); err != nil {
			errs = append(errs, fmt.Errorf("pod %s: %w", uid, err))
		}
	}
	bridge := r.cfg.Bridge
	if bridge == "" {
		bridge = network.DefaultBridge
	}
	if err := network.RemoveNode(ctx, bridge); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
