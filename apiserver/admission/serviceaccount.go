package admission

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// ServiceAccount is the plugin that gives pods their service account and
// its API credentials, as kube-apiserver's.
const ServiceAccount = "ServiceAccount"

// What the plugin mounts, as upstream names it.
const (
	defaultServiceAccount = "default"
	apiAccessVolumePrefix = "kube-api-access-"
	apiAccessMountPath    = "/var/run/secrets/kubernetes.io/serviceaccount"
	rootCAConfigMap       = "kube-root-ca.crt"
	// apiAccessTokenSeconds is the token lifetime upstream asks for: an
	// hour and seven seconds (the seconds mark it as the legacy-compatible
	// projected token).
	apiAccessTokenSeconds = int64(3607)
	mirrorPodAnnotation   = "kubernetes.io/config.mirror"
)

// serviceAccount defaults a new pod's serviceAccountName to "default",
// refuses pods whose service account does not exist, copies the account's
// imagePullSecrets, and unless automounting is off mounts the
// kube-api-access projected volume (token, CA, namespace) into every
// container at /var/run/secrets/kubernetes.io/serviceaccount.
type serviceAccount struct {
	*admission.Handler
	client kubernetes.Interface
	lister corelisters.ServiceAccountLister
}

func (p serviceAccount) Admit(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if !isCreate(a, "pods") {
		return nil
	}
	pod, ok := a.GetObject().(*corev1.Pod)
	if !ok {
		return nil
	}
	if _, mirror := pod.Annotations[mirrorPodAnnotation]; mirror {
		return nil
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = defaultServiceAccount
	}
	sa, err := p.get(ctx, a.GetNamespace(), pod.Spec.ServiceAccountName)
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("error looking up service account %s/%s: %w", a.GetNamespace(), pod.Spec.ServiceAccountName, err))
	}
	automount := true
	switch {
	case pod.Spec.AutomountServiceAccountToken != nil:
		automount = *pod.Spec.AutomountServiceAccountToken
	case sa.AutomountServiceAccountToken != nil:
		automount = *sa.AutomountServiceAccountToken
	}
	if automount {
		mountAPIAccess(pod)
	}
	if len(pod.Spec.ImagePullSecrets) == 0 {
		for _, s := range sa.ImagePullSecrets {
			pod.Spec.ImagePullSecrets = append(pod.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s.Name})
		}
	}
	return nil
}

// get finds the service account in the cache, then in storage; the
// default one, which a controller creates with the namespace, is waited
// for a little, as upstream does.
func (p serviceAccount) get(ctx context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	if p.lister != nil {
		sa, err := p.lister.ServiceAccounts(ns).Get(name)
		if err == nil {
			return sa, nil
		} else if !apierrors.IsNotFound(err) {
			return nil, err
		}
	}
	attempts := 1
	if name == defaultServiceAccount {
		attempts = 10
	}
	interval := time.Duration(100+rand.IntN(100)) * time.Millisecond
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(interval):
			}
		}
		sa, err := p.client.CoreV1().ServiceAccounts(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			return sa, nil
		} else if !apierrors.IsNotFound(err) {
			return nil, err
		}
	}
	return nil, apierrors.NewNotFound(corev1.Resource("serviceaccount"), name)
}

// mountAPIAccess mounts the kube-api-access volume into every container
// and init container that mounts nothing at its path, adding the volume
// when one does.
func mountAPIAccess(pod *corev1.Pod) {
	volume := ""
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.Name, apiAccessVolumePrefix) {
			volume = v.Name
			break
		}
	}
	hasVolume := volume != ""
	if !hasVolume {
		volume = apiAccessVolumePrefix + utilrand.String(5)
	}
	mount := corev1.VolumeMount{Name: volume, ReadOnly: true, MountPath: apiAccessMountPath}
	needed := false
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			mounted := false
			for _, m := range list[i].VolumeMounts {
				mounted = mounted || m.MountPath == apiAccessMountPath
			}
			if !mounted {
				list[i].VolumeMounts = append(list[i].VolumeMounts, mount)
				needed = true
			}
		}
	}
	if needed && !hasVolume {
		pod.Spec.Volumes = append(pod.Spec.Volumes, apiAccessVolume(volume))
	}
}

func apiAccessVolume(name string) corev1.Volume {
	mode := int32(0o644)
	expiration := apiAccessTokenSeconds
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: &mode,
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: &expiration, Path: "token"}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: rootCAConfigMap},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		},
	}}}
}
