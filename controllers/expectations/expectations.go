package expectations

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// Timeout after which unmet expectations are given up: a watch event
// that was lost must not stall a controller for ever.
const Timeout = 5 * time.Minute

type entry struct {
	adds    int
	deletes map[types.UID]bool
	at      time.Time
}

// Expectations tracks outstanding creates and deletes per owner key.
type Expectations struct {
	clock clock.PassiveClock
	mu    sync.Mutex
	m     map[string]*entry
}

// New returns empty expectations.
func New(clk clock.PassiveClock) *Expectations {
	return &Expectations{clock: clk, m: map[string]*entry{}}
}

// Satisfied says whether the owner's cache has caught up with what it
// did (or the expectations timed out).
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	en, ok := e.m[key]
	if !ok {
		return true
	}
	if (en.adds <= 0 && len(en.deletes) == 0) || e.clock.Since(en.at) > Timeout {
		delete(e.m, key)
		return true
	}
	return false
}

// ExpectCreations records n creates about to be sent.
func (e *Expectations) ExpectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	en := e.get(key)
	en.adds += n
	en.at = e.clock.Now()
}

// ExpectDeletion records a delete about to be sent.
func (e *Expectations) ExpectDeletion(key string, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	en := e.get(key)
	en.deletes[uid] = true
	en.at = e.clock.Now()
}

// CreationObserved lowers the outstanding creates (a create was seen, or
// failed and will not be seen).
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if en, ok := e.m[key]; ok && en.adds > 0 {
		en.adds--
	}
}

// DeletionObserved clears an outstanding delete.
func (e *Expectations) DeletionObserved(key string, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if en, ok := e.m[key]; ok {
		delete(en.deletes, uid)
	}
}

// Forget drops the owner's expectations (it was deleted).
func (e *Expectations) Forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}

func (e *Expectations) get(key string) *entry {
	en, ok := e.m[key]
	if !ok {
		en = &entry{deletes: map[types.UID]bool{}}
		e.m[key] = en
	}
	return en
}
