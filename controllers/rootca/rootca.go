package rootca

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
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Name and key of the published bundle.
const (
	Name = "kube-root-ca.crt"
	Key  = "ca.crt"
	// description is upstream's annotation text.
	description = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."
)

type reconciler struct {
	client client.Client
	ca     string
}

// Setup registers the publisher of ca (PEM) with the manager.
func Setup(mgr ctrl.Manager, ca []byte) error {
	if len(ca) == 0 {
		return fmt.Errorf("rootca: no CA bundle to publish")
	}
	r := &reconciler{client: mgr.GetClient(), ca: string(ca)}
	onlyOurs := predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetName() == Name })
	return ctrl.NewControllerManagedBy(mgr).Named("rootca").
		For(&corev1.Namespace{}).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: o.GetNamespace()}}}
		}), builder.WithPredicates(onlyOurs)).
		Complete(r)
}

func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ns := &corev1.Namespace{}
	if err := r.client.Get(ctx, req.NamespacedName, ns); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating {
		return ctrl.Result{}, nil
	}
	cm := &corev1.ConfigMap{}
	err := r.client.Get(ctx, types.NamespacedName{Namespace: ns.Name, Name: Name}, cm)
	switch {
	case apierrors.IsNotFound(err):
		cm = &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: Name, Annotations: map[string]string{"kubernetes.io/description": description}},
			Data:       map[string]string{Key: r.ca},
		}
		err := r.client.Create(ctx, cm)
		if err == nil || apierrors.IsAlreadyExists(err) || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("publishing %s: %w", Name, err)
	case err != nil:
		return ctrl.Result{}, err
	}
	if cm.Data[Key] == r.ca && len(cm.Data) == 1 && len(cm.BinaryData) == 0 && cm.Annotations["kubernetes.io/description"] == description {
		return ctrl.Result{}, nil
	}
	updated := cm.DeepCopy()
	updated.Data, updated.BinaryData = map[string]string{Key: r.ca}, nil
	if updated.Annotations == nil {
		updated.Annotations = map[string]string{}
	}
	updated.Annotations["kubernetes.io/description"] = description
	return ctrl.Result{}, r.client.Update(ctx, updated)
}
