package kubelet

import (
	"context"
	"encoding/base64"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPullSecrets(t *testing.T) {
	auth := base64.StdEncoding.EncodeToString([]byte("bob:pa:ss"))
	for _, tc := range []struct {
		secret *corev1.Secret
		want   []PullCredential
		bad    bool
	}{
		{&corev1.Secret{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(
			`{"auths":{"https://index.docker.io/v1/":{"auth":"` + auth + `"}}}`)}},
			[]PullCredential{{Registry: "docker.io", Username: "bob", Password: "pa:ss"}}, false},
		{&corev1.Secret{Type: corev1.SecretTypeDockercfg, Data: map[string][]byte{corev1.DockerConfigKey: []byte(
			`{"registry.example:5000/team":{"username":"amy","password":"pw"}}`)}},
			[]PullCredential{{Registry: "registry.example:5000", Username: "amy", Password: "pw"}}, false},
		{&corev1.Secret{Type: corev1.SecretTypeOpaque}, nil, true},
		{&corev1.Secret{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"r":{"auth":"!!"}}}`)}}, nil, true},
	} {
		tc.secret.ObjectMeta = metav1.ObjectMeta{Name: "s"}
		got, err := parsePullSecret(tc.secret)
		if (err != nil) != tc.bad || len(got) != len(tc.want) || len(got) > 0 && got[0] != tc.want[0] {
			t.Errorf("%s: %+v %v, want %+v", tc.secret.Type, got, err, tc.want)
		}
	}
	ctx := WithPullCredentials(context.Background(), []PullCredential{{Registry: "docker.io", Username: "bob"}})
	if c, ok := PullCredentialsFor(ctx, "registry-1.docker.io"); !ok || c.Username != "bob" {
		t.Errorf("Docker Hub's pull host did not find the docker.io login")
	}
	if _, ok := PullCredentialsFor(ctx, "quay.io"); ok {
		t.Errorf("a login used for another registry")
	}
}
