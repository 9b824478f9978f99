package history

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// HashLabel marks pods (and revisions) with their template's revision.
const HashLabel = appsv1.ControllerRevisionHashLabelKey

// Hash names a pod template: FNV-32a of its JSON form and the collision
// count, encoded like upstream's hashes.
func Hash(t *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	b, _ := json.Marshal(t)
	h.Write(b)
	if collisionCount != nil {
		var buf [4]byte
		binary.LittleEndian.PutUint32(buf[:], uint32(*collisionCount))
		h.Write(buf[:])
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// Patch is the data a revision holds: the strategic merge patch that puts
// the template back (what kubectl rollout undo applies).
func Patch(t *corev1.PodTemplateSpec) ([]byte, error) {
	raw, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	var tmpl map[string]any
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		return nil, err
	}
	tmpl["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": tmpl}})
}

// List returns the revisions the owner controls, oldest number first.
func List(ctx context.Context, c client.Client, owner client.Object) ([]*appsv1.ControllerRevision, error) {
	var list appsv1.ControllerRevisionList
	if err := c.List(ctx, &list, client.InNamespace(owner.GetNamespace())); err != nil {
		return nil, err
	}
	var out []*appsv1.ControllerRevision
	for i := range list.Items {
		if metav1.IsControlledBy(&list.Items[i], owner) {
			out = append(out, &list.Items[i])
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Revision < out[j].Revision })
	return out, nil
}

// Ensure returns the revision of the current template, creating it or
// renumbering an old one as the newest. A name taken by a different
// template raises the collision count (written by the caller).
func Ensure(ctx context.Context, c client.Client, owner client.Object, gvk schema.GroupVersionKind, template *corev1.PodTemplateSpec,
	podLabels map[string]string, collisionCount *int32, revs []*appsv1.ControllerRevision) (*appsv1.ControllerRevision, *int32, error) {
	data, err := Patch(template)
	if err != nil {
		return nil, collisionCount, err
	}
	var latest int64
	for _, r := range revs {
		latest = max(latest, r.Revision)
	}
	for _, r := range revs {
		if !bytes.Equal(r.Data.Raw, data) {
			continue
		}
		if r.Revision != latest {
			updated := r.DeepCopy()
			updated.Revision = latest + 1
			if err := c.Update(ctx, updated); err != nil {
				return nil, collisionCount, err
			}
			return updated, collisionCount, nil
		}
		return r, collisionCount, nil
	}
	for {
		hash := Hash(template, collisionCount)
		labels := map[string]string{}
		for k, v := range podLabels {
			labels[k] = v
		}
		labels[HashLabel] = hash
		rev := &appsv1.ControllerRevision{
			ObjectMeta: metav1.ObjectMeta{Name: owner.GetName() + "-" + hash, Namespace: owner.GetNamespace(), Labels: labels,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, Name: owner.GetName(),
					UID: owner.GetUID(), Controller: new(true), BlockOwnerDeletion: new(true)}}},
			Data:     runtime.RawExtension{Raw: data},
			Revision: latest + 1,
		}
		err := c.Create(ctx, rev)
		if err == nil {
			return rev, collisionCount, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, collisionCount, err
		}
		existing := &appsv1.ControllerRevision{}
		if gerr := c.Get(ctx, client.ObjectKeyFromObject(rev), existing); gerr != nil {
			return nil, collisionCount, gerr
		}
		if metav1.IsControlledBy(existing, owner) && bytes.Equal(existing.Data.Raw, data) {
			return existing, collisionCount, nil // the cache was behind
		}
		n := int32(0)
		if collisionCount != nil {
			n = *collisionCount
		}
		collisionCount = new(n + 1)
	}
}

// Prune deletes the oldest revisions not in use beyond limit.
func Prune(ctx context.Context, c client.Client, revs []*appsv1.ControllerRevision, inUse map[string]bool, limit int32) error {
	var idle []*appsv1.ControllerRevision
	for _, r := range revs {
		if !inUse[r.Name] {
			idle = append(idle, r)
		}
	}
	if int32(len(idle)) <= limit {
		return nil
	}
	for _, r := range idle[:int32(len(idle))-limit] {
		if err := c.Delete(ctx, r); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}
