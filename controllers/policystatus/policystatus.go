package policystatus

import (
	"context"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/cel/openapi/resolver"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Name is the controller's name, as --controllers knows it.
const Name = "validatingadmissionpolicy-status"

type reconciler struct {
	client  client.Client
	checker *validating.TypeChecker
}

// Setup registers the controller with the manager.
func Setup(mgr ctrl.Manager, cfg *rest.Config) error {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating a discovery client: %w", err)
	}
	r := &reconciler{
		client:  mgr.GetClient(),
		checker: &validating.TypeChecker{SchemaResolver: &resolver.ClientDiscoveryResolver{Discovery: dc}, RestMapper: mgr.GetRESTMapper()},
	}
	return ctrl.NewControllerManagedBy(mgr).Named(Name).For(&admissionregistrationv1.ValidatingAdmissionPolicy{}).Complete(r)
}

func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	p := &admissionregistrationv1.ValidatingAdmissionPolicy{}
	if err := r.client.Get(ctx, req.NamespacedName, p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if p.Status.ObservedGeneration == p.Generation && p.Status.TypeChecking != nil {
		return ctrl.Result{}, nil
	}
	warnings := r.checker.Check(p)
	patch := client.MergeFrom(p.DeepCopy())
	p.Status.TypeChecking = &admissionregistrationv1.TypeChecking{ExpressionWarnings: warnings}
	p.Status.ObservedGeneration = p.Generation
	if err := r.client.Status().Patch(ctx, p, patch); err != nil {
		return ctrl.Result{}, fmt.Errorf("writing the type-checking status of %s: %w", p.Name, err)
	}
	return ctrl.Result{}, nil
}
