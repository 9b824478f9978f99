package podcontrol

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
)

// byController is the name of the pod informer's index from controller
// UID (or orphanKey+namespace for pods without a controller) to pods.
const byController = "skiff.dev/controller"

// orphanKey prefixes the index key of pods that have no controller. UIDs
// never contain '/', so the keys cannot collide.
const orphanKey = "orphan/"

// Index finds the pods a controller may own in the shared pod informer,
// by controller UID, as upstream's controllers do: the work of a sync is
// proportional to the pods of that controller (and the namespace's
// orphans), not to all pods of the namespace. The pods are the cache's
// own objects; callers must not modify them (copy before a Patch or
// Update, which decode the answer into their argument).
type Index struct {
	indexer toolscache.Indexer
}

// NewIndex adds the index to the cache's pod informer (once; later calls
// share it) and returns it. Call it before the cache starts.
func NewIndex(ctx context.Context, c ctrlcache.Cache) (*Index, error) {
	inf, err := c.GetInformer(ctx, &corev1.Pod{})
	if err != nil {
		return nil, fmt.Errorf("getting the pod informer: %w", err)
	}
	shared, ok := inf.(toolscache.SharedIndexInformer)
	if !ok {
		return nil, fmt.Errorf("the pod informer is a %T, not a SharedIndexInformer", inf)
	}
	indexer := shared.GetIndexer()
	if _, exists := indexer.GetIndexers()[byController]; !exists {
		if err := shared.AddIndexers(toolscache.Indexers{byController: controllerKey}); err != nil {
			return nil, fmt.Errorf("indexing pods by controller: %w", err)
		}
	}
	return &Index{indexer: indexer}, nil
}

func controllerKey(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		return []string{string(ref.UID)}, nil
	}
	return []string{orphanKey + pod.Namespace}, nil
}

// Owned returns the pods whose controller has the UID.
func (x *Index) Owned(uid types.UID) []*corev1.Pod {
	return x.lookup(string(uid))
}

// Candidates returns the pods owner may claim (see Claim): the pods it
// controls and the namespace's orphans that its selector matches.
func (x *Index) Candidates(owner metav1.Object, selector labels.Selector) []*corev1.Pod {
	out := x.Owned(owner.GetUID())
	if selector.Empty() {
		return out // an empty selector adopts nothing
	}
	for _, p := range x.lookup(orphanKey + owner.GetNamespace()) {
		if selector.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	return out
}

func (x *Index) lookup(key string) []*corev1.Pod {
	objs, err := x.indexer.ByIndex(byController, key)
	if err != nil {
		return nil // only when the index does not exist, which NewIndex prevents
	}
	out := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok {
			out = append(out, p)
		}
	}
	return out
}

// DeepCopies returns copies of the pods, for callers that modify them.
func DeepCopies(pods []*corev1.Pod) []*corev1.Pod {
	out := make([]*corev1.Pod, len(pods))
	for i, p := range pods {
		out[i] = p.DeepCopy()
	}
	return out
}
