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
	"sync"
	"time"

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
// The content of configMap, secret, downwardAPI and projected volumes is
// refreshed while the pod runs (every RefreshInterval; tokens when 80% of
// their lifetime passed) and swapped in atomically, with upstream's
// layout: the files live in a timestamped "..<time>" directory that the
// "..data" symlink points to, and each visible name is a symlink into
// "..data" (subPath mounts see no updates, as upstream).
type volumes struct {
	dir    string
	client kubernetes.Interface
	state  *volumeState
	now    func() time.Time
}

// RefreshInterval is how often the content of a running pod's
// configMap, secret, downwardAPI and projected volumes is checked.
var RefreshInterval = 10 * time.Second

// volumeState remembers, across syncs, when each volume is due for a
// refresh and the tokens handed out.
type volumeState struct {
	mu     sync.Mutex
	due    map[string]time.Time // "<pod uid>/<volume>" → next refresh
	tokens map[string]cachedToken
}

type cachedToken struct {
	token     string
	refreshAt time.Time
}

func newVolumeState() *volumeState {
	return &volumeState{due: map[string]time.Time{}, tokens: map[string]cachedToken{}}
}

// forget drops what is remembered of a pod's volumes.
func (s *volumeState) forget(uid string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range []map[string]time.Time{s.due} {
		for k := range m {
			if strings.HasPrefix(k, uid+"/") {
				delete(m, k)
			}
		}
	}
	for k := range s.tokens {
		if strings.HasPrefix(k, uid+"/") {
			delete(s.tokens, k)
		}
	}
}

// refreshable says whether a volume's content follows its sources.
func refreshable(vol *corev1.Volume) bool {
	return vol.ConfigMap != nil || vol.Secret != nil || vol.DownwardAPI != nil || vol.Projected != nil
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
	_, statErr := os.Stat(ready)
	isReady := statErr == nil
	key := string(pod.UID) + "/" + vol.Name
	if isReady {
		if !refreshable(vol) || v.state == nil {
			return dir, nil
		}
		v.state.mu.Lock()
		due, known := v.state.due[key]
		v.state.mu.Unlock()
		if known && v.now().Before(due) {
			return dir, nil
		}
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
		files, err = v.projectedFiles(ctx, pod, vol.Projected, src, key)
	}
	if err != nil {
		if isReady {
			// The pod runs with what it has; try again at the next refresh.
			v.markRefreshed(key)
			return dir, nil
		}
		return "", err
	}
	if refreshable(vol) {
		if err := atomicWrite(dir, files, v.now()); err != nil {
			return "", err
		}
		v.markRefreshed(key)
	}
	if isReady {
		return dir, nil
	}
	return dir, os.WriteFile(ready, nil, 0o600)
}

func (v *volumes) markRefreshed(key string) {
	if v.state == nil {
		return
	}
	v.state.mu.Lock()
	v.state.due[key] = v.now().Add(RefreshInterval)
	v.state.mu.Unlock()
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

func (v *volumes) projectedFiles(ctx context.Context, pod *corev1.Pod, p *corev1.ProjectedVolumeSource, src *envSource, key string) (map[string]file, error) {
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
			files, err = v.tokenFile(ctx, pod, s.ServiceAccountToken, p.DefaultMode, key)
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
func (v *volumes) tokenFile(ctx context.Context, pod *corev1.Pod, t *corev1.ServiceAccountTokenProjection, dflt *int32, key string) (map[string]file, error) {
	cacheKey := key + "/" + t.Path
	if v.state != nil {
		v.state.mu.Lock()
		c, ok := v.state.tokens[cacheKey]
		v.state.mu.Unlock()
		if ok && v.now().Before(c.refreshAt) {
			return map[string]file{t.Path: {[]byte(c.token), mode(nil, dflt)}}, nil
		}
	}
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
	if v.state != nil {
		// Refreshed once 80% of its lifetime passed, as upstream.
		now := v.now()
		life := tr.Status.ExpirationTimestamp.Sub(now)
		v.state.mu.Lock()
		v.state.tokens[cacheKey] = cachedToken{token: tr.Status.Token, refreshAt: now.Add(life * 8 / 10)}
		v.state.mu.Unlock()
	}
	return map[string]file{t.Path: {[]byte(tr.Status.Token), mode(nil, dflt)}}, nil
}

// dataDir is the symlink to the current content of a volume.
const dataDir = "..data"

// atomicWrite makes files the content of dir in one step, as upstream's
// atomic writer: written into a new "..<time>" directory, published by
// renaming a "..data" symlink to it, each top-level name a symlink into
// "..data". Unchanged content is left alone.
func atomicWrite(dir string, files map[string]file, now time.Time) error {
	for name := range files {
		clean := filepath.Clean(name)
		if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") || strings.HasPrefix(clean, "..") {
			return fmt.Errorf("path %q leaves the volume", name)
		}
	}
	old, _ := os.Readlink(filepath.Join(dir, dataDir))
	if old != "" && sameContent(filepath.Join(dir, old), files) {
		return nil
	}
	ts, err := os.MkdirTemp(dir, now.UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return err
	}
	if err := os.Chmod(ts, 0o755); err != nil {
		return err
	}
	top := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		clean := filepath.Clean(name)
		top[strings.SplitN(clean, string(filepath.Separator), 2)[0]] = true
		path := filepath.Join(ts, clean)
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
	tmp := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataDir)); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "..") {
			if name != filepath.Base(ts) && name != dataDir && e.IsDir() {
				_ = os.RemoveAll(filepath.Join(dir, name)) // an older version
			}
			continue
		}
		if !top[name] && e.Type()&os.ModeSymlink != 0 {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return err
			}
		}
	}
	for name := range top {
		link := filepath.Join(dir, name)
		if target, err := os.Readlink(link); err == nil && target == filepath.Join(dataDir, name) {
			continue
		}
		_ = os.Remove(link)
		if err := os.Symlink(filepath.Join(dataDir, name), link); err != nil {
			return err
		}
	}
	return nil
}

// sameContent says whether dir holds exactly files.
func sameContent(dir string, files map[string]file) bool {
	count := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		count++
		rel, _ := filepath.Rel(dir, path)
		f, ok := files[rel]
		if !ok {
			return errors.New("extra")
		}
		info, err := d.Info()
		if err != nil || info.Mode().Perm() != f.mode.Perm() {
			return errors.New("mode")
		}
		data, err := os.ReadFile(path)
		if err != nil || string(data) != string(f.data) {
			return errors.New("data")
		}
		return nil
	})
	return err == nil && count == len(files)
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

// CleanupVolumes removes the volumes of every pod under dir (unmounting
// tmpfs ones), for `skiff agent --cleanup`.
func CleanupVolumes(dir string) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() {
			errs = append(errs, (&volumes{dir: dir}).cleanup(e.Name()))
		}
	}
	return errors.Join(errs...)
}
