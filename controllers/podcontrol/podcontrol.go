package podcontrol

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ControllerRef returns the owner reference a controller puts on what it
// creates.
func ControllerRef(owner metav1.Object, gvk schema.GroupVersionKind) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, Name: owner.GetName(), UID: owner.GetUID(),
		Controller: new(true), BlockOwnerDeletion: new(true)}
}

// FromTemplate makes a pod of a template, named after the owner
// (generateName owner-), in the owner's namespace.
func FromTemplate(t *corev1.PodTemplateSpec, namespace, generateName string, ref metav1.OwnerReference) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       namespace,
			GenerateName:    generateName,
			Labels:          copyMap(t.Labels),
			Annotations:     copyMap(t.Annotations),
			Finalizers:      append([]string(nil), t.Finalizers...),
			OwnerReferences: []metav1.OwnerReference{ref},
		},
		Spec: *t.Spec.DeepCopy(),
	}
	return pod
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Claim returns the objects (pods, ReplicaSets) the owner controls after
// adopting orphans its selector matches (unless it is being deleted) and
// releasing those it owns that the selector no longer matches.
func Claim[T client.Object](ctx context.Context, c client.Client, owner client.Object, gvk schema.GroupVersionKind, selector labels.Selector, objs []T) ([]T, error) {
	var claimed []T
	for _, obj := range objs {
		ref := metav1.GetControllerOfNoCopy(obj)
		matches := selector.Matches(labels.Set(obj.GetLabels()))
		switch {
		case ref != nil && ref.UID == owner.GetUID():
			if matches || owner.GetDeletionTimestamp() != nil {
				claimed = append(claimed, obj)
				continue
			}
			if err := release(ctx, c, owner, obj); err != nil {
				return nil, err
			}
		case ref == nil && matches && owner.GetDeletionTimestamp() == nil && obj.GetDeletionTimestamp() == nil:
			if err := adopt(ctx, c, owner, gvk, obj); err != nil {
				if apierrors.IsNotFound(err) {
					continue
				}
				return nil, err
			}
			claimed = append(claimed, obj)
		}
	}
	return claimed, nil
}

// Pointers returns pointers to a list's items, for Claim.
func Pointers[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

// adopt and release patch a copy: the object may be the cache's own.
func adopt(ctx context.Context, c client.Client, owner client.Object, gvk schema.GroupVersionKind, obj client.Object) error {
	obj = obj.DeepCopyObject().(client.Object)
	ref := ControllerRef(owner, gvk)
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"ownerReferences": []metav1.OwnerReference{ref}, "uid": obj.GetUID()}})
	if err := c.Patch(ctx, obj, client.RawPatch(types.StrategicMergePatchType, patch)); err != nil {
		return fmt.Errorf("adopting %s: %w", obj.GetName(), err)
	}
	return nil
}

func release(ctx context.Context, c client.Client, owner client.Object, obj client.Object) error {
	obj = obj.DeepCopyObject().(client.Object)
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"ownerReferences": []map[string]any{{"$patch": "delete", "uid": owner.GetUID()}}, "uid": obj.GetUID()}})
	err := c.Patch(ctx, obj, client.RawPatch(types.StrategicMergePatchType, patch))
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsInvalid(err) {
		return fmt.Errorf("releasing %s: %w", obj.GetName(), err)
	}
	return nil
}

// IsActive: neither finished nor being deleted.
func IsActive(p *corev1.Pod) bool {
	return p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

// CountsChanged says whether a pod update changes what a ReplicaSet
// counts or decides on: labels, owners, deletion, phase and readiness
// (with its time, for minReadySeconds). Binding and other status writes
// do not.
func CountsChanged(oldObj, newObj client.Object) bool {
	o, ok1 := oldObj.(*corev1.Pod)
	n, ok2 := newObj.(*corev1.Pod)
	if !ok1 || !ok2 {
		return true
	}
	if !labels.Equals(o.Labels, n.Labels) || !equality.Semantic.DeepEqual(o.OwnerReferences, n.OwnerReferences) ||
		!o.DeletionTimestamp.Equal(n.DeletionTimestamp) || o.Status.Phase != n.Status.Phase {
		return true
	}
	oSince, oReady := ReadySince(o)
	nSince, nReady := ReadySince(n)
	return oReady != nReady || !oSince.Equal(nSince)
}

// IsTerminating: being deleted but not finished.
func IsTerminating(p *corev1.Pod) bool {
	return p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

// ReadySince returns when the pod became Ready, or false if it is not.
func ReadySince(p *corev1.Pod) (time.Time, bool) {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.LastTransitionTime.Time, c.Status == corev1.ConditionTrue
		}
	}
	return time.Time{}, false
}

// IsReady: the pod's Ready condition is True.
func IsReady(p *corev1.Pod) bool {
	_, ok := ReadySince(p)
	return ok
}

// Available says whether the pod has been ready for minReadySeconds; if
// it is ready but not yet available, wait is how long until it is.
func Available(p *corev1.Pod, minReadySeconds int32, now time.Time) (ok bool, wait time.Duration) {
	since, ready := ReadySince(p)
	if !ready {
		return false, 0
	}
	if minReadySeconds == 0 {
		return true, 0
	}
	at := since.Add(time.Duration(minReadySeconds) * time.Second)
	if !now.Before(at) {
		return true, 0
	}
	return false, at.Sub(now)
}

// SortForDeletion orders pods so that the ones to delete first come
// first, as upstream: unscheduled before scheduled, pending before
// unknown before running, not ready before ready, pods doubled up on a
// node before lone ones, recently ready before long ready, more restarts
// before fewer, newer before older.
func SortForDeletion(pods []*corev1.Pod) {
	perNode := map[string]int{}
	for _, p := range pods {
		if p.Spec.NodeName != "" {
			perNode[p.Spec.NodeName]++
		}
	}
	phaseRank := map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}
	restarts := func(p *corev1.Pod) int32 {
		var n int32
		for _, c := range p.Status.ContainerStatuses {
			n = max(n, c.RestartCount)
		}
		return n
	}
	sort.SliceStable(pods, func(i, j int) bool {
		a, b := pods[i], pods[j]
		if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
			return a.Spec.NodeName == ""
		}
		if phaseRank[a.Status.Phase] != phaseRank[b.Status.Phase] {
			return phaseRank[a.Status.Phase] < phaseRank[b.Status.Phase]
		}
		ra, rb := IsReady(a), IsReady(b)
		if ra != rb {
			return !ra
		}
		if perNode[a.Spec.NodeName] != perNode[b.Spec.NodeName] {
			return perNode[a.Spec.NodeName] > perNode[b.Spec.NodeName]
		}
		if ra && rb {
			sa, _ := ReadySince(a)
			sb, _ := ReadySince(b)
			if !sa.Equal(sb) {
				return sa.After(sb)
			}
		}
		if restarts(a) != restarts(b) {
			return restarts(a) > restarts(b)
		}
		return a.CreationTimestamp.After(b.CreationTimestamp.Time)
	})
}

// SlowStart runs fn count times in batches of 1, 2, 4, … in parallel,
// stopping after the first batch with a failure (as upstream does, so a
// quota or admission error costs one request, not hundreds). It returns
// how many calls were made, how many succeeded, and the first error.
func SlowStart(count int, fn func() error) (attempted, done int, err error) {
	for batch := 1; attempted < count; batch *= 2 {
		n := min(batch, count-attempted)
		attempted += n
		errs := make(chan error, n)
		for range n {
			go func() { errs <- fn() }()
		}
		var first error
		for range n {
			if err := <-errs; err != nil {
				if first == nil {
					first = err
				}
			} else {
				done++
			}
		}
		if first != nil {
			return attempted, done, first
		}
	}
	return attempted, done, nil
}
