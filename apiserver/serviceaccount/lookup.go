package serviceaccount

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/utils/clock"
)

// ClientLookup finds service accounts in an informer cache (asking the API
// when the cache does not have one yet), and bound pods, secrets and nodes
// through the API with answers cached for a few seconds, so that the
// server does not cache every pod and secret just to check tokens.
type ClientLookup struct {
	Client          kubernetes.Interface
	ServiceAccounts corelisters.ServiceAccountLister
	Clock           clock.Clock

	mu    sync.Mutex
	cache map[string]cachedUID
}

type cachedUID struct {
	uid     string
	expires time.Time
}

const lookupTTL = 10 * time.Second

func (l *ClientLookup) cached(key string, get func() (metav1.Object, error)) (string, error) {
	now := l.Clock.Now()
	l.mu.Lock()
	if c, ok := l.cache[key]; ok && now.Before(c.expires) {
		l.mu.Unlock()
		return c.uid, nil
	}
	l.mu.Unlock()
	obj, err := get()
	uid := ""
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return "", err
	default:
		uid = string(obj.GetUID())
	}
	l.mu.Lock()
	if l.cache == nil {
		l.cache = map[string]cachedUID{}
	}
	if len(l.cache) > 10000 {
		l.cache = map[string]cachedUID{}
	}
	l.cache[key] = cachedUID{uid: uid, expires: now.Add(lookupTTL)}
	l.mu.Unlock()
	return uid, nil
}

// ServiceAccountUID implements Lookup.
func (l *ClientLookup) ServiceAccountUID(ctx context.Context, ns, name string) (string, error) {
	if sa, err := l.ServiceAccounts.ServiceAccounts(ns).Get(name); err == nil {
		return string(sa.UID), nil
	}
	sa, err := l.Client.CoreV1().ServiceAccounts(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return string(sa.UID), nil
}

// PodUID implements Lookup.
func (l *ClientLookup) PodUID(ctx context.Context, ns, name string) (string, error) {
	return l.cached("pod/"+ns+"/"+name, func() (metav1.Object, error) {
		return metaOf(l.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{}))
	})
}

// SecretUID implements Lookup.
func (l *ClientLookup) SecretUID(ctx context.Context, ns, name string) (string, error) {
	return l.cached("secret/"+ns+"/"+name, func() (metav1.Object, error) {
		return metaOf(l.Client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{}))
	})
}

// NodeUID implements Lookup.
func (l *ClientLookup) NodeUID(ctx context.Context, name string) (string, error) {
	return l.cached("node/"+name, func() (metav1.Object, error) {
		return metaOf(l.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}))
	})
}

func metaOf[T interface {
	*corev1.Pod | *corev1.Secret | *corev1.Node
	metav1.Object
}](obj T, err error) (metav1.Object, error) {
	if err != nil {
		return nil, err
	}
	return obj, nil
}

func newUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
