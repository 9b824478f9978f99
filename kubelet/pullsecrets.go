package kubelet

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// PullCredential is a registry login from one of a pod's
// imagePullSecrets.
type PullCredential struct {
	// Registry is the registry host (host[:port]); Docker Hub's aliases
	// are all "docker.io".
	Registry           string
	Username, Password string
}

type pullCredentialsKey struct{}

// WithPullCredentials hands a pod's registry logins to the runtime's
// image pulls.
func WithPullCredentials(ctx context.Context, creds []PullCredential) context.Context {
	if len(creds) == 0 {
		return ctx
	}
	return context.WithValue(ctx, pullCredentialsKey{}, creds)
}

// PullCredentialsFor returns the login for a registry host from ctx, as
// the runtime asks for it while pulling.
func PullCredentialsFor(ctx context.Context, host string) (PullCredential, bool) {
	creds, _ := ctx.Value(pullCredentialsKey{}).([]PullCredential)
	host = NormalizeRegistry(host)
	for _, c := range creds {
		if c.Registry == host {
			return c, true
		}
	}
	return PullCredential{}, false
}

// NormalizeRegistry reduces a registry as docker config files name it
// ("https://index.docker.io/v1/", "registry.example:5000/path") to its
// host, Docker Hub's names to "docker.io".
func NormalizeRegistry(key string) string {
	key = strings.TrimSpace(key)
	if strings.Contains(key, "://") {
		if u, err := url.Parse(key); err == nil {
			key = u.Host
		}
	}
	key, _, _ = strings.Cut(key, "/")
	switch key {
	case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return "docker.io"
	}
	return key
}

// dockerConfigEntry is one registry's login in a docker config.
type dockerConfigEntry struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Auth     string `json:"auth"`
}

// parsePullSecret reads the logins of a kubernetes.io/dockerconfigjson or
// kubernetes.io/dockercfg Secret.
func parsePullSecret(s *corev1.Secret) ([]PullCredential, error) {
	var entries map[string]dockerConfigEntry
	switch s.Type {
	case corev1.SecretTypeDockerConfigJson:
		var cfg struct {
			Auths map[string]dockerConfigEntry `json:"auths"`
		}
		if err := json.Unmarshal(s.Data[corev1.DockerConfigJsonKey], &cfg); err != nil {
			return nil, fmt.Errorf("secret %q: %w", s.Name, err)
		}
		entries = cfg.Auths
	case corev1.SecretTypeDockercfg:
		if err := json.Unmarshal(s.Data[corev1.DockerConfigKey], &entries); err != nil {
			return nil, fmt.Errorf("secret %q: %w", s.Name, err)
		}
	default:
		return nil, fmt.Errorf("secret %q is of type %q, not %q", s.Name, s.Type, corev1.SecretTypeDockerConfigJson)
	}
	var out []PullCredential
	for key, e := range entries {
		user, pass := e.Username, e.Password
		if e.Auth != "" {
			decoded, err := base64.StdEncoding.DecodeString(e.Auth)
			if err != nil {
				return nil, fmt.Errorf("secret %q: auth of %q: %w", s.Name, key, err)
			}
			u, p, ok := strings.Cut(string(decoded), ":")
			if !ok {
				return nil, fmt.Errorf("secret %q: auth of %q is not user:password", s.Name, key)
			}
			user, pass = u, p
		}
		out = append(out, PullCredential{Registry: NormalizeRegistry(key), Username: user, Password: pass})
	}
	return out, nil
}

// pullCredentials reads the logins of the pod's imagePullSecrets; those
// missing or unreadable are skipped with a log line, as upstream's kubelet
// does.
func (h *Host) pullCredentials(ctx context.Context, pod *corev1.Pod) []PullCredential {
	var out []PullCredential
	for _, ref := range pod.Spec.ImagePullSecrets {
		s, err := h.cfg.Client.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err == nil {
			var creds []PullCredential
			if creds, err = parsePullSecret(s); err == nil {
				out = append(out, creds...)
				continue
			}
		}
		klog.FromContext(ctx).Info("Unable to retrieve some image pull secrets; attempting to pull the image may not succeed", "pod", klog.KObj(pod), "secret", ref.Name, "err", err)
	}
	return out
}
