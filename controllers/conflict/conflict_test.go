package conflict

import (
	"context"
	"errors"
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

func TestRetry(t *testing.T) {
	conflictErr := fmt.Errorf("updating status: %w", apierrors.NewConflict(schema.GroupResource{Resource: "jobs"}, "j", errors.New("modified")))
	other := errors.New("boom")
	for _, tc := range []struct {
		err       error
		wantErr   error
		wantAfter bool
	}{{conflictErr, nil, true}, {other, other, false}, {nil, nil, false}} {
		r := Retry(reconcile.Func(func(context.Context, reconcile.Request) (reconcile.Result, error) { return reconcile.Result{}, tc.err }))
		res, err := r.Reconcile(context.Background(), reconcile.Request{})
		if !errors.Is(err, tc.wantErr) || (res.RequeueAfter == RetryAfter) != tc.wantAfter {
			t.Errorf("%v: got %v, %v", tc.err, res, err)
		}
	}
}
