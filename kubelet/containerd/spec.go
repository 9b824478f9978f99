package containerd

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/pkg/oci"
	corev1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/kubelet"
)

// CFS period the CPU limit is a quota of, as upstream's kubelet uses.
const cfsPeriod = 100000

// resourceOpts turns the container's resources into cgroup limits, as
// upstream: requests.cpu → CPU shares, limits.cpu → CFS quota,
// limits.memory → memory limit.
func resourceOpts(c *corev1.Container) []oci.SpecOpts {
	var opts []oci.SpecOpts
	if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
		opts = append(opts, oci.WithCPUShares(uint64(max(2, q.MilliValue()*1024/1000))))
	}
	if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok && q.MilliValue() > 0 {
		opts = append(opts, oci.WithCPUCFS(max(1000, q.MilliValue()*cfsPeriod/1000), cfsPeriod))
	}
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok && q.Value() > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(q.Value())))
	}
	return opts
}

// securityOpts applies the container's security context over the pod's:
// user and group, privileged, capabilities, a read-only root filesystem,
// no new privileges, the seccomp profile (RuntimeDefault is containerd's
// default profile; Localhost ones are read from seccompDir, as the
// kubelet's <root>/seccomp).
func securityOpts(pod *corev1.Pod, c *corev1.Container, seccompDir string) ([]oci.SpecOpts, error) {
	var opts []oci.SpecOpts
	psc := pod.Spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	sc := c.SecurityContext
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	uid, gid := sc.RunAsUser, sc.RunAsGroup
	if uid == nil {
		uid = psc.RunAsUser
	}
	if gid == nil {
		gid = psc.RunAsGroup
	}
	nonRoot := sc.RunAsNonRoot
	if nonRoot == nil {
		nonRoot = psc.RunAsNonRoot
	}
	if nonRoot != nil && *nonRoot && (uid == nil || *uid == 0) {
		msg := "container has runAsNonRoot and image will run as root"
		if uid != nil {
			msg = "container's runAsUser breaks non-root policy"
		}
		return nil, &kubelet.StartError{Reason: kubelet.ReasonCreateConfigError, Message: msg}
	}
	switch {
	case uid != nil && gid != nil:
		opts = append(opts, oci.WithUIDGID(uint32(*uid), uint32(*gid)))
	case uid != nil:
		opts = append(opts, oci.WithUserID(uint32(*uid)))
	case gid != nil:
		opts = append(opts, oci.WithUser(fmt.Sprintf("0:%d", *gid)))
	}
	if len(psc.SupplementalGroups) > 0 {
		var groups []string
		for _, g := range psc.SupplementalGroups {
			groups = append(groups, fmt.Sprint(g))
		}
		opts = append(opts, oci.WithAdditionalGIDs(strings.Join(groups, ",")))
	}
	if sc.Privileged != nil && *sc.Privileged {
		opts = append(opts, oci.WithPrivileged, oci.WithAllDevicesAllowed, oci.WithHostDevices)
	} else if caps := sc.Capabilities; caps != nil {
		if add := capNames(caps.Add); len(add) > 0 {
			opts = append(opts, oci.WithAddedCapabilities(add))
		}
		if drop := capNames(caps.Drop); slices.Contains(drop, "CAP_ALL") {
			opts = append(opts, oci.WithCapabilities(capNames(caps.Add)))
		} else if len(drop) > 0 {
			opts = append(opts, oci.WithDroppedCapabilities(drop))
		}
	}
	if sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem {
		opts = append(opts, oci.WithRootFSReadonly())
	}
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		opts = append(opts, oci.WithNoNewPrivileges)
	}
	profile := sc.SeccompProfile
	if profile == nil {
		profile = psc.SeccompProfile
	}
	privileged := sc.Privileged != nil && *sc.Privileged
	switch {
	case profile == nil || privileged || profile.Type == corev1.SeccompProfileTypeUnconfined:
		// Unconfined, as upstream's kubelet without seccompDefault.
	case profile.Type == corev1.SeccompProfileTypeRuntimeDefault:
		opts = append(opts, seccomp.WithDefaultProfile())
	case profile.Type == corev1.SeccompProfileTypeLocalhost && profile.LocalhostProfile != nil:
		path := filepath.Join(seccompDir, filepath.Clean("/"+*profile.LocalhostProfile))
		if _, err := os.Stat(path); err != nil {
			return nil, &kubelet.StartError{Reason: kubelet.ReasonCreateError, Message: fmt.Sprintf("failed to generate seccomp spec opts: cannot load seccomp profile %q: %v", path, err)}
		}
		opts = append(opts, seccomp.WithProfile(path))
	}
	return opts, nil
}

// capNames spells capabilities as the OCI spec does: CAP_NET_ADMIN for
// NET_ADMIN, CAP_ALL for ALL.
func capNames(caps []corev1.Capability) []string {
	var out []string
	for _, c := range caps {
		name := strings.ToUpper(string(c))
		if !strings.HasPrefix(name, "CAP_") {
			name = "CAP_" + name
		}
		out = append(out, name)
	}
	return out
}
