package expectations

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Handler maps events of owned objects (pods, ReplicaSets) to the owner of
// kind Owner that controls them, settling the owner's expectations when
// Exp is set. With Orphans set, an object no one controls wakes the
// owners that could adopt it.
//
// With Relevant set, an update of an object that keeps its owner wakes
// the owner only when Relevant says the change matters to it.
type Handler struct {
	Owner    schema.GroupVersionKind
	Exp      *Expectations
	Orphans  func(ctx context.Context, obj client.Object) []reconcile.Request
	Relevant func(old, new client.Object) bool
}

func (h *Handler) owner(o client.Object) *reconcile.Request {
	ref := metav1.GetControllerOf(o)
	if ref == nil || ref.Kind != h.Owner.Kind || ref.APIVersion != h.Owner.GroupVersion().String() {
		return nil
	}
	return &reconcile.Request{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: ref.Name}}
}

func (h *Handler) orphan(ctx context.Context, o client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if h.Orphans == nil || metav1.GetControllerOf(o) != nil {
		return
	}
	for _, req := range h.Orphans(ctx, o) {
		q.Add(req)
	}
}

// Create implements handler.EventHandler.
func (h *Handler) Create(ctx context.Context, e event.TypedCreateEvent[client.Object], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if req := h.owner(e.Object); req != nil {
		if h.Exp != nil {
			h.Exp.CreationObserved(req.String())
		}
		q.Add(*req)
		return
	}
	h.orphan(ctx, e.Object, q)
}

// Update implements handler.EventHandler. An object marked for deletion
// counts as deleted: a pod may stay Terminating for long (its node gone).
func (h *Handler) Update(ctx context.Context, e event.TypedUpdateEvent[client.Object], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	oldReq, newReq := h.owner(e.ObjectOld), h.owner(e.ObjectNew)
	if newReq != nil && h.Exp != nil && e.ObjectNew.GetDeletionTimestamp() != nil && e.ObjectOld.GetDeletionTimestamp() == nil {
		h.Exp.DeletionObserved(newReq.String(), e.ObjectNew.GetUID())
	}
	if oldReq != nil && (newReq == nil || *oldReq != *newReq) {
		q.Add(*oldReq)
	}
	if newReq != nil {
		if oldReq != nil && *oldReq == *newReq && h.Relevant != nil && !h.Relevant(e.ObjectOld, e.ObjectNew) {
			return
		}
		q.Add(*newReq)
		return
	}
	if !labels.Equals(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels()) || oldReq != nil {
		h.orphan(ctx, e.ObjectNew, q)
	}
}

// Delete implements handler.EventHandler.
func (h *Handler) Delete(_ context.Context, e event.TypedDeleteEvent[client.Object], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if req := h.owner(e.Object); req != nil {
		if h.Exp != nil {
			h.Exp.DeletionObserved(req.String(), e.Object.GetUID())
		}
		q.Add(*req)
	}
}

// Generic implements handler.EventHandler.
func (h *Handler) Generic(context.Context, event.TypedGenericEvent[client.Object], workqueue.TypedRateLimitingInterface[reconcile.Request]) {
}
