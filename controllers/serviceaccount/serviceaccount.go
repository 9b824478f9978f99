package serviceaccount

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Default is the ServiceAccount every namespace gets.
const Default = "default"

type reconciler struct{ client client.Client }

// Setup registers the controller with the manager.
func Setup(mgr ctrl.Manager) error {
	r := &reconciler{client: mgr.GetClient()}
	return ctrl.NewControllerManagedBy(mgr).Named("serviceaccount").
		For(&corev1.Namespace{}).
		Watches(&corev1.ServiceAccount{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: o.GetNamespace()}}}
		}), builder.WithPredicates(predicate.Funcs{
			// Only deletions of a default ServiceAccount matter.
			CreateFunc:  func(event.CreateEvent) bool { return false },
			UpdateFunc:  func(event.UpdateEvent) bool { return false },
			DeleteFunc:  func(e event.DeleteEvent) bool { return e.Object.GetName() == Default },
			GenericFunc: func(event.GenericEvent) bool { return false },
		})).
		Complete(r)
}

func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ns := &corev1.Namespace{}
	if err := r.client.Get(ctx, req.NamespacedName, ns); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if ns.Status.Phase == corev1.NamespaceTerminating || ns.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	sa := &corev1.ServiceAccount{}
	if err := r.client.Get(ctx, types.NamespacedName{Namespace: ns.Name, Name: Default}, sa); err == nil {
		return ctrl.Result{}, nil
	}
	sa = &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: Default}}
	err := r.client.Create(ctx, sa)
	switch {
	case err == nil, apierrors.IsAlreadyExists(err), apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, fmt.Errorf("creating the default service account: %w", err)
}
