package eventfilter

import (
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/clock"
	"k8s.io/utils/lru"
)

// Upstream's defaults (client-go tools/record): burst and refill rate per
// key, and how many keys are remembered.
const (
	burst     = 25
	qps       = 1. / 300.
	cacheSize = 4096
)

// Recorder is an events.EventRecorder that drops what exceeds the limit.
type Recorder struct {
	next  events.EventRecorder
	clock clock.PassiveClock

	mu      sync.Mutex
	buckets *lru.Cache
}

var _ events.EventRecorder = (*Recorder)(nil)

// New wraps next.
func New(next events.EventRecorder, clk clock.PassiveClock) *Recorder {
	return &Recorder{next: next, clock: clk, buckets: lru.New(cacheSize)}
}

// Eventf records the event unless its object has used up its allowance.
func (r *Recorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	if !r.allow(regarding, eventtype) {
		return
	}
	r.next.Eventf(regarding, related, eventtype, reason, action, note, args...)
}

func (r *Recorder) allow(obj runtime.Object, eventtype string) bool {
	m, err := meta.Accessor(obj)
	if err != nil {
		return true // not an object with metadata; let the recorder decide
	}
	// The Go type stands in for the kind: typed objects often carry no
	// TypeMeta.
	key := fmt.Sprintf("%T/%s/%s/%s/%s", obj, m.GetNamespace(), m.GetName(), m.GetUID(), eventtype)
	r.mu.Lock()
	defer r.mu.Unlock()
	var limiter flowcontrol.PassiveRateLimiter
	if v, ok := r.buckets.Get(key); ok {
		limiter = v.(flowcontrol.PassiveRateLimiter)
	} else {
		limiter = flowcontrol.NewTokenBucketPassiveRateLimiterWithClock(qps, burst, r.clock)
		r.buckets.Add(key, limiter)
	}
	return limiter.TryAccept()
}
