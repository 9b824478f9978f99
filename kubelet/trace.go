package kubelet

import (
	"time"

	"k8s.io/klog/v2"
)

// syncTrace logs, at verbosity 4, how long the steps of one pod sync
// took, when the sync did something worth timing.
type syncTrace struct {
	logger klog.Logger
	key    string
	start  time.Time
	last   time.Time
	steps  []any
}

func newSyncTrace(logger klog.Logger, key string) *syncTrace {
	if !logger.V(4).Enabled() {
		return nil
	}
	now := time.Now()
	return &syncTrace{logger: logger, key: key, start: now, last: now}
}

// step records the time since the previous step under name.
func (t *syncTrace) step(name string) {
	if t == nil {
		return
	}
	now := time.Now()
	t.steps = append(t.steps, name, now.Sub(t.last).Round(time.Microsecond).String())
	t.last = now
}

func (t *syncTrace) done() {
	if t == nil || len(t.steps) == 0 {
		return
	}
	t.logger.V(4).Info("pod synced", append([]any{"pod", t.key, "total", time.Since(t.start).Round(time.Microsecond).String()}, t.steps...)...)
}
