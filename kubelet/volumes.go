package kubelet

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Mount is a container's volume mount resolved to a path on the node.
type Mount struct {
	HostPath, ContainerPath string
	ReadOnly                bool
}

// volumes prepares pods' volumes under dir/<pod uid>/<volume>: emptyDir
// (on disk, or tmpfs for medium Memory), hostPath, and the files of
// configMap, secret, downwardAPI and projected volumes (service account
// tokens through the TokenRequest API), as upstream's kubelet does.
// Their content is written when the pod starts; later changes of the
// ConfigMaps and Secrets are not propagated yet.
type volumes struct {
	dir    string
	client kubernetes.Interface
}

// FailedMount is the reason of containers waiting for their volumes and
// of the event saying why.
const FailedMount = "FailedMount"

func (v *volumes) podDir(pod *corev1.Pod) string { return filepath.Join(v.dir, string(pod.UID)) }

// prepare makes the pod's volumes (once; existing ones are kept) and
// returns their paths on the node by volume name.
func (v *volumes) prepare(ctx context.Context, pod *corev1.Pod, src *envSource) (map[string]string, error) {
	paths := map[string]string{}
	for i := range pod.Spec.Volumes {
		vol := &pod.Spec.Volumes[i]
		path, err := v.prepareOne(ctx, pod, vol, src)
		if err != nil {
			return nil, &StartError{Reason: "ContainerCreating", Message: fmt.Sprintf("MountVolume.SetUp failed for volume %q : %v", vol.Name, err)}
		}
		paths[vol.Name] = path
	}
	return paths, nil
}

func (v *volumes) prepareOne(ctx context.Context, pod *corev1.Pod, vol *corev1.Volume, src *envSource) (string, error) {
	dir := filepath.Join(v.podDir(pod), vol.Name)
	ready := filepath.Join(v.podDir(pod), "."+vol.Name+".ready")
	switch {
	case vol.HostPath != nil:
		return vol.HostPath.Path, hostPath(vol.HostPath)
	case vol.EmptyDir == nil && vol.ConfigMap == nil && vol.Secret == nil && vol.DownwardAPI == nil && vol.Projected == nil:
		return "", fmt.Errorf("this node does not support the volume's type yet (emptyDir, hostPath, configMap, secret, downwardAPI and projected are supported)")
	}
	if _, err := os.Stat(ready); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	var files map[string]file
	var err error
	switch {
	case vol.EmptyDir != nil:
		if vol.EmptyDir.Medium == corev1.StorageMediumMemory {
			opts := "mode=1777"
			if l := vol.EmptyDir.SizeLimit; l != nil && l.Value() > 0 {
				opts += fmt.Sprintf(",size=%d", l.Value())
			}
			if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
				return "", fmt.Errorf("mounting tmpfs: %w", err)
			}
		} else if err := os.Chmod(dir, 0o777); err != nil {
			return "", err
		}
	case vol.ConfigMap != nil:
		files, err = v.configMapFiles(ctx, pod, vol.ConfigMap.Name, vol.ConfigMap.Items, vol.ConfigMap.Optional, vol.ConfigMap.DefaultMode)
	case vol.Secret != nil:
		files, err = v.secretFiles(ctx, pod, vol.Secret.SecretName, vol.Secret.Items, vol.Secret.Optional, vol.Secret.DefaultMode)
	case vol.DownwardAPI != nil:
		files, err = downwardFiles(src, vol.DownwardAPI.Items, vol.DownwardAPI.DefaultMode)
	case vol.Projected != nil:
		files, err = v.projectedFiles(ctx, pod, vol.Projected, src)
	}
	if err != nil {
		return "", err
	}
	if err := writeFiles(dir, files); err != nil {
		return "", err
	}
	return dir, os.WriteFile(ready, nil, 0o600)
}

// hostPath checks or creates the path as its type says.
func hostPath(h *corev1.HostPathVolumeSource) error {
	t := corev1.HostPathUnset
	if h.Type != nil {
		t = *h.Type
	}
	fi, err := os.Stat(h.Path)
	switch t {
	case corev1.HostPathUnset:
		return nil
	case corev1.HostPathDirectoryOrCreate:
		if os.IsNotExist(err) {
			return os.MkdirAll(h.Path, 0o755)
		}
	case corev1.HostPathFileOrCreate:
		if os.IsNotExist(err) {
			if err := os.MkdirAll(filepath.Dir(h.Path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(h.Path, os.O_CREATE|os.O_RDONLY, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("hostPath type check failed: %s is not a %s", h.Path, t)
	}
	ok := map[corev1.HostPathType]bool{
		corev1.HostPathDirectoryOrCreate: fi.IsDir(), corev1.HostPathDirectory: fi.IsDir(),
		corev1.HostPathFileOrCreate: fi.Mode().IsRegular(), corev1.HostPathFile: fi.Mode().IsRegular(),
		corev1.HostPathSocket: fi.Mode()&os.ModeSocket != 0, corev1.HostPathCharDev: fi.Mode()&os.ModeCharDevice != 0,
		corev1.HostPathBlockDev: fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0,
	}[t]
	if !ok {
		return fmt.Errorf("hostPath type check failed: %s is not a %s", h.Path, t)
	}
	return nil
}

type file struct {
	data []byte
	mode os.FileMode
}

func mode(item *int32, dflt *int32) os.FileMode {
	switch {
	case item != nil:
		return os.FileMode(*item)
	case dflt != nil:
		return os.FileMode(*dflt)
	}
	return 0o644
}

// keyFiles maps a ConfigMap's or Secret's keys to files: all keys, or the
// items (each of which must exist unless the volume is optional).
func keyFiles(data map[string][]byte, items []corev1.KeyToPath, optional bool, dflt *int32, what string) (map[string]file, error) {
	out := map[string]file{}
	if len(items) == 0 {
		for k, d := range data {
			out[k] = file{d, mode(nil, dflt)}
		}
		return out, nil
	}
	for _, it := range items {
		d, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, fmt.Errorf("configuration of %s: key %q not found", what, it.Key)
		}
		out[it.Path] = file{d, mode(it.Mode, dflt)}
	}
	return out, nil
}

func (v *volumes) configMapFiles(ctx context.Context, pod *corev1.Pod, name string, items []corev1.KeyToPath, opt *bool, dflt *int32) (map[string]file, error) {
	cm, err := v.client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && optional(opt) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	data := map[string][]byte{}
	for k, s := range cm.Data {
		data[k] = []byte(s)
	}
	for k, b := range cm.BinaryData {
		data[k] = b
	}
	return keyFiles(data, items, optional(opt), dflt, fmt.Sprintf("configmap %q", name))
}

func (v *volumes) secretFiles(ctx context.Context, pod *corev1.Pod, name string, items []corev1.KeyToPath, opt *bool, dflt *int32) (map[string]file, error) {
	sec, err := v.client.CoreV1().Secrets(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && optional(opt) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return keyFiles(sec.Data, items, optional(opt), dflt, fmt.Sprintf("secret %q", name))
}

// downwardFiles renders downward API items; labels and annotations as
// upstream does, one key="value" line each, sorted.
func downwardFiles(src *envSource, items []corev1.DownwardAPIVolumeFile, dflt *int32) (map[string]file, error) {
	out := map[string]file{}
	for _, it := range items {
		var value string
		switch {
		case it.FieldRef != nil && (it.FieldRef.FieldPath == "metadata.labels" || it.FieldRef.FieldPath == "metadata.annotations"):
			m := src.pod.Labels
			if it.FieldRef.FieldPath == "metadata.annotations" {
				m = src.pod.Annotations
			}
			var lines []string
			for k, val := range m {
				lines = append(lines, fmt.Sprintf("%s=%q", k, val))
			}
			sort.Strings(lines)
			value = strings.Join(lines, "\n")
		case it.FieldRef != nil:
			v, err := src.field(it.FieldRef.FieldPath)
			if err != nil {
				return nil, err
			}
			value = v
		case it.ResourceFieldRef != nil:
			c := &corev1.Container{}
			if it.ResourceFieldRef.ContainerName == "" {
				return nil, errors.New("resourceFieldRef in a volume must name its container")
			}
			v, err := src.resourceField(c, it.ResourceFieldRef)
			if err != nil {
				return nil, err
			}
			value = v
		}
		out[it.Path] = file{[]byte(value), mode(it.Mode, dflt)}
	}
	return out, nil
}

func (v *volumes) projectedFiles(ctx context.Context, pod *corev1.Pod, p *corev1.ProjectedVolumeSource, src *envSource) (map[string]file, error) {
	out := map[string]file{}
	for _, s := range p.Sources {
		var files map[string]file
		var err error
		switch {
		case s.ConfigMap != nil:
			files, err = v.configMapFiles(ctx, pod, s.ConfigMap.Name, s.ConfigMap.Items, s.ConfigMap.Optional, p.DefaultMode)
		case s.Secret != nil:
			files, err = v.secretFiles(ctx, pod, s.Secret.Name, s.Secret.Items, s.Secret.Optional, p.DefaultMode)
		case s.DownwardAPI != nil:
			files, err = downwardFiles(src, s.DownwardAPI.Items, p.DefaultMode)
		case s.ServiceAccountToken != nil:
			files, err = v.tokenFile(ctx, pod, s.ServiceAccountToken, p.DefaultMode)
		default:
			err = errors.New("this node does not support the projected source's type yet")
		}
		if err != nil {
			return nil, err
		}
		for k, f := range files {
			out[k] = f
		}
	}
	return out, nil
}

// tokenFile asks the API for a token of the pod's service account, bound
// to the pod, as upstream's kubelet does for projected tokens.
func (v *volumes) tokenFile(ctx context.Context, pod *corev1.Pod, t *corev1.ServiceAccountTokenProjection, dflt *int32) (map[string]file, error) {
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: t.ExpirationSeconds,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if t.Audience != "" {
		req.Spec.Audiences = []string{t.Audience}
	}
	tr, err := v.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("failed to fetch token: %w", err)
	}
	return map[string]file{t.Path: {[]byte(tr.Status.Token), mode(nil, dflt)}}, nil
}

// writeFiles writes files under dir, rejecting paths that leave it.
func writeFiles(dir string, files map[string]file) error {
	for _, name := range slices.Sorted(maps.Keys(files)) {
		clean := filepath.Clean(name)
		if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			return fmt.Errorf("path %q leaves the volume", name)
		}
		path := filepath.Join(dir, clean)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		f := files[name]
		if err := os.WriteFile(path, f.data, f.mode.Perm()); err != nil {
			return err
		}
		if err := os.Chmod(path, f.mode.Perm()); err != nil {
			return err
		}
	}
	return nil
}

// mounts resolves a container's volumeMounts.
func mounts(c *corev1.Container, paths map[string]string) ([]Mount, error) {
	var out []Mount
	for _, m := range c.VolumeMounts {
		host, ok := paths[m.Name]
		if !ok {
			return nil, &StartError{Reason: ReasonCreateConfigError, Message: fmt.Sprintf("volumeMount %q names no volume of the pod", m.Name)}
		}
		if m.SubPath != "" {
			sub := filepath.Clean(m.SubPath)
			if filepath.IsAbs(sub) || sub == ".." || strings.HasPrefix(sub, "../") {
				return nil, &StartError{Reason: ReasonCreateConfigError, Message: fmt.Sprintf("subPath %q leaves volume %q", m.SubPath, m.Name)}
			}
			host = filepath.Join(host, sub)
			if _, err := os.Stat(host); os.IsNotExist(err) {
				if err := os.MkdirAll(host, 0o755); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, Mount{HostPath: host, ContainerPath: m.MountPath, ReadOnly: m.ReadOnly})
	}
	return out, nil
}

// cleanup removes a pod's volumes (unmounting tmpfs ones first).
func (v *volumes) cleanup(uid string) error {
	dir := filepath.Join(v.dir, uid)
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	for _, e := range entries {
		if e.IsDir() {
			_ = unix.Unmount(filepath.Join(dir, e.Name()), unix.MNT_DETACH) // only tmpfs ones are mounts
		}
	}
	return os.RemoveAll(dir)
}
