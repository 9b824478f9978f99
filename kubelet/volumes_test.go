package kubelet

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestVolumesPrepare(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC))
	client := fake.NewClientset(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cfg"}, Data: map[string]string{"a": "1", "b": "2"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "sec"}, Data: map[string][]byte{"pw": []byte("x")}},
	)
	var audiences []string
	tokens := 0
	client.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "token" {
			return false, nil, nil
		}
		req := a.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenRequest)
		audiences = req.Spec.Audiences
		if req.Spec.BoundObjectRef == nil || req.Spec.BoundObjectRef.Name != "p" {
			return true, nil, errors.New("token not bound to the pod")
		}
		tokens++
		return true, &authenticationv1.TokenRequest{Status: authenticationv1.TokenRequestStatus{Token: "tok",
			ExpirationTimestamp: metav1.NewTime(clk.Now().Add(time.Hour))}}, nil
	})
	mode := int32(0o400)
	yes := true
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "uid-9", Labels: map[string]string{"b": "2", "a": "1"}},
		Spec: corev1.PodSpec{Volumes: []corev1.Volume{
			{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"},
				Items: []corev1.KeyToPath{{Key: "a", Path: "dir/a.txt", Mode: &mode}}}}},
			{Name: "opt", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "absent", Optional: &yes}}},
			{Name: "proj", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", Audience: "vault"}},
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}}},
				{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}},
			}}}},
		}},
	}
	v := &volumes{dir: t.TempDir(), client: client, state: newVolumeState(), now: clk.Now}
	paths, err := v.prepare(context.Background(), pod, &envSource{client: client, pod: pod})
	if err != nil {
		t.Fatal(err)
	}
	read := func(vol, file string) string {
		b, err := os.ReadFile(filepath.Join(paths[vol], file))
		if err != nil {
			t.Fatalf("%s/%s: %v", vol, file, err)
		}
		return string(b)
	}
	if got := read("cfg", "dir/a.txt"); got != "1" {
		t.Errorf("cfg a = %q", got)
	}
	if fi, err := os.Stat(filepath.Join(paths["cfg"], "dir/a.txt")); err != nil || fi.Mode().Perm() != 0o400 {
		t.Errorf("cfg a mode %v %v", fi.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(paths["cfg"], "b")); !os.IsNotExist(err) {
		t.Error("a key not in items was written")
	}
	if got := read("proj", "token") + "|" + read("proj", "pw") + "|" + read("proj", "labels"); got != "tok|x|a=\"1\"\nb=\"2\"" || strings.Join(audiences, ",") != "vault" {
		t.Errorf("projected: %q audiences %v", got, audiences)
	}
	if entries, _ := os.ReadDir(paths["opt"]); len(entries) != 2 || entries[0].Name() != "..2026_11_27_04_00_00."+entries[0].Name()[len("..2026_11_27_04_00_00."):] || entries[1].Name() != "..data" {
		t.Errorf("optional missing secret wrote %v", entries)
	}

	// Updates: the new content replaces the old at once (..data), after
	// the refresh interval; the token is fetched again only near its end.
	cm, _ := client.CoreV1().ConfigMaps("ns").Get(context.Background(), "cfg", metav1.GetOptions{})
	cm.Data["a"] = "changed"
	if _, err := client.CoreV1().ConfigMaps("ns").Update(context.Background(), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Readlink(filepath.Join(paths["cfg"], "..data"))
	if _, err := v.prepare(context.Background(), pod, &envSource{client: client, pod: pod}); err != nil || read("cfg", "dir/a.txt") != "1" {
		t.Fatalf("refreshed before the interval: %q %v", read("cfg", "dir/a.txt"), err)
	}
	clk.Step(RefreshInterval)
	if _, err := v.prepare(context.Background(), pod, &envSource{client: client, pod: pod}); err != nil || read("cfg", "dir/a.txt") != "changed" {
		t.Fatalf("after the interval: %q %v", read("cfg", "dir/a.txt"), err)
	}
	after, _ := os.Readlink(filepath.Join(paths["cfg"], "..data"))
	if link, _ := os.Readlink(filepath.Join(paths["cfg"], "dir")); before == after || link != "..data/dir" {
		t.Fatalf("..data %q then %q, dir -> %q", before, after, link)
	}
	if _, err := os.Stat(filepath.Join(paths["cfg"], before)); !os.IsNotExist(err) {
		t.Fatalf("the old version was left: %v", err)
	}
	if tokens != 1 {
		t.Fatalf("%d token requests within the token's lifetime", tokens)
	}
	clk.Step(50 * time.Minute)
	if _, err := v.prepare(context.Background(), pod, &envSource{client: client, pod: pod}); err != nil || tokens != 2 {
		t.Fatalf("token not refreshed at 80%% of its life: %d requests, %v", tokens, err)
	}

	// A required ConfigMap that is missing fails the mount, as upstream.
	bad := pod.DeepCopy()
	bad.UID = "uid-10"
	bad.Spec.Volumes = []corev1.Volume{{Name: "x", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}}}}}
	_, err = v.prepare(context.Background(), bad, &envSource{client: client, pod: bad})
	var se *StartError
	if !errors.As(err, &se) || !strings.Contains(se.Message, `MountVolume.SetUp failed for volume "x"`) || !strings.Contains(se.Message, "not found") {
		t.Fatalf("missing configmap: %v", err)
	}

	if err := v.cleanup("uid-9"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(v.dir, "uid-9")); !os.IsNotExist(err) {
		t.Fatal("volumes left after cleanup")
	}
}

func TestVolumePathsStayInside(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"../escape", "/abs", "a/../../b"} {
		if err := atomicWrite(dir, map[string]file{name: {[]byte("x"), 0o644}}, time.Now()); err == nil {
			t.Errorf("%q written", name)
		}
	}
	c := &corev1.Container{VolumeMounts: []corev1.VolumeMount{{Name: "v", MountPath: "/m", SubPath: "../x"}}}
	if _, err := mounts(c, map[string]string{"v": dir}); err == nil {
		t.Error("subPath leaving the volume accepted")
	}
	c.VolumeMounts[0].SubPath = "sub"
	ms, err := mounts(c, map[string]string{"v": dir})
	if err != nil || len(ms) != 1 || ms[0].HostPath != filepath.Join(dir, "sub") || ms[0].ContainerPath != "/m" {
		t.Fatalf("mounts %v %v", ms, err)
	}
}

func TestHostPathTypes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ty := func(t corev1.HostPathType) *corev1.HostPathType { return &t }
	for _, tc := range []struct {
		path string
		t    corev1.HostPathType
		ok   bool
	}{
		{dir, corev1.HostPathDirectory, true}, {file, corev1.HostPathDirectory, false}, {file, corev1.HostPathFile, true},
		{filepath.Join(dir, "new"), corev1.HostPathDirectoryOrCreate, true}, {filepath.Join(dir, "nf"), corev1.HostPathFileOrCreate, true},
		{filepath.Join(dir, "missing"), corev1.HostPathFile, false}, {dir, corev1.HostPathSocket, false},
	} {
		err := hostPath(&corev1.HostPathVolumeSource{Path: tc.path, Type: ty(tc.t)})
		if (err == nil) != tc.ok {
			t.Errorf("%s as %s: %v", tc.path, tc.t, err)
		}
	}
}
