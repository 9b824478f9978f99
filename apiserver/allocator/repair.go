package allocator

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"
)

// Holdings returns, for the current state of the API, which owner should
// hold which values, and the resourceVersion (etcd revision) it was read at.
type Holdings func(ctx context.Context) (map[string]string, int64, error)

// Repair makes the allocations in store match holdings: values held for an
// owner that no longer wants them are released, and values an owner uses
// without holding them are claimed. Allocations newer than the holdings
// listing are left alone: their request may still be in flight.
func Repair(ctx context.Context, store *Store, holdings Holdings) error {
	want, rev, err := holdings(ctx)
	if err != nil {
		return err
	}
	have, _, err := store.List(ctx)
	if err != nil {
		return err
	}
	logger := klog.FromContext(ctx)
	held := map[string]bool{}
	for _, a := range have {
		held[a.Value] = true
		if want[a.Value] == a.Owner || a.Revision > rev {
			continue
		}
		logger.Info("Releasing a leaked allocation", "value", a.Value, "owner", a.Owner)
		if err := store.Release(ctx, a.Value, a.Owner); err != nil {
			return err
		}
	}
	for value, owner := range want {
		if held[value] {
			continue
		}
		if ok, err := store.Claim(ctx, value, owner); err != nil {
			return err
		} else if !ok {
			logger.Info("A value is used by two owners", "value", value, "owner", owner)
		}
	}
	return nil
}

// RunRepair repairs every interval until ctx ends.
func RunRepair(ctx context.Context, interval time.Duration, store *Store, holdings Holdings) {
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := Repair(ctx, store, holdings); err != nil {
			klog.FromContext(ctx).Error(err, "Repairing allocations")
		}
	}, interval)
}
