package conflict

import (
	"context"
	"errors"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// RetryAfter is how soon a sync that hit a conflict runs again.
const RetryAfter = 100 * time.Millisecond

// Retry wraps r: a conflict (possibly wrapped) becomes a retry after
// RetryAfter instead of an error.
func Retry(r reconcile.Reconciler) reconcile.Reconciler {
	return reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
		res, err := r.Reconcile(ctx, req)
		var status apierrors.APIStatus
		if err != nil && errors.As(err, &status) && apierrors.IsConflict(err) {
			return ctrl.Result{RequeueAfter: RetryAfter}, nil
		}
		return res, err
	})
}
