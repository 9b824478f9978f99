package proxy

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/klog/v2"
	"sigs.k8s.io/knftables"
)

// applier turns rulesets into nft transactions: the whole table when
// what the kernel holds is unknown (at start, after a failure), else
// only what changed since the last applied ruleset, through netlink when
// it can express the change (netlinkWriter).
type applier struct {
	nft  knftables.Interface
	nl   *netlinkWriter
	last *state
	// shared counts the Services that hold each element of the shared
	// sets in last (sharedSets).
	shared map[string]map[string]int
}

// apply makes the table hold want, all at once or not at all.
func (a *applier) apply(ctx context.Context, want *state) error {
	var list []op
	var changes *ops
	if a.last == nil {
		ex, err := a.existing(ctx)
		if err != nil {
			return err
		}
		if !ex.table && a.nl != nil {
			// The table, with its comment, comes from nft; netlink fills it.
			tx := a.nft.NewTransaction()
			tx.Add(proxyTable())
			if err := a.nft.Run(ctx, tx); err != nil {
				return fmt.Errorf("creating the table: %w", err)
			}
		}
		list = a.full(want.flatten(), ex)
	} else {
		changes = a.changes(want)
		list = changes.list()
	}
	if len(list) > 0 {
		if err := a.run(ctx, list); err != nil {
			a.last = nil
			return err
		}
	}
	a.last = want
	a.commitShared(want, changes)
	return nil
}

// run applies one transaction: through netlink when it can express it,
// else through nft.
func (a *applier) run(ctx context.Context, list []op) error {
	if a.nl != nil {
		done, err := a.nl.run(list)
		if done {
			return nil
		}
		if err != nil {
			// Nothing of the batch applied: nft gets its chance.
			klog.FromContext(ctx).Error(err, "the netlink batch failed; applying the change through nft")
		}
	}
	tx := a.nft.NewTransaction()
	emit(tx, list)
	if err := a.nft.Run(ctx, tx); err != nil {
		return fmt.Errorf("nft transaction of %d operations: %w", tx.NumOperations(), err)
	}
	return nil
}

func proxyTable() *knftables.Table {
	return &knftables.Table{Comment: knftables.PtrTo("skiff service proxy")}
}

// existing is what the table holds, by kind.
type existing struct {
	table              bool
	chains, sets, maps []string
}

func (a *applier) existing(ctx context.Context) (existing, error) {
	if a.nl != nil {
		return a.nl.existing()
	}
	var e existing
	for kind, dst := range map[string]*[]string{"chains": &e.chains, "sets": &e.sets, "maps": &e.maps} {
		names, err := a.nft.List(ctx, kind)
		if err != nil && !knftables.IsNotFound(err) {
			return e, fmt.Errorf("listing the table's %s: %w", kind, err)
		}
		e.table = e.table || err == nil
		*dst = names
	}
	return e, nil
}

func setObject(name string, s setSpec) *knftables.Set {
	set := &knftables.Set{Name: name, Type: s.typ}
	if s.dynamic {
		set.Flags = []knftables.SetFlag{knftables.DynamicFlag, knftables.TimeoutFlag}
		t := s.timeout
		set.Timeout = &t
	}
	return set
}

func element(mapName, key, value string) *knftables.Element {
	e := &knftables.Element{Map: mapName, Key: strings.Split(key, " . ")}
	if value != "" {
		e.Value = []string{value}
	}
	return e
}

// full rewrites the table: what exists is emptied (so that stale chains
// lose their references), everything wanted is written as a change from
// nothing, and what is no longer wanted is deleted. Dynamic sets (session
// affinity) keep their entries.
func (a *applier) full(want *ruleset, ex existing) []op {
	list := []op{{verbAdd, proxyTable()}}
	for _, name := range ex.chains {
		list = append(list, op{verbFlush, &knftables.Chain{Name: name}})
	}
	for _, name := range ex.maps {
		list = append(list, op{verbFlush, &knftables.Map{Name: name}})
	}
	for _, name := range ex.sets {
		if s, ok := want.sets[name]; ok && !s.dynamic {
			list = append(list, op{verbFlush, &knftables.Set{Name: name}})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(mapTypes)) {
		list = append(list, op{verbAdd, &knftables.Map{Name: name, Type: mapTypes[name]}})
	}
	var o ops
	diffRuleset(newRuleset(), want, &o)
	list = append(list, o.list()...)
	for _, name := range ex.chains {
		if _, ok := want.chains[name]; !ok {
			list = append(list, op{verbDelete, &knftables.Chain{Name: name}})
		}
	}
	for _, name := range ex.maps {
		if _, ok := mapTypes[name]; !ok {
			list = append(list, op{verbDelete, &knftables.Map{Name: name}})
		}
	}
	for _, name := range ex.sets {
		if _, ok := want.sets[name]; !ok {
			list = append(list, op{verbDelete, &knftables.Set{Name: name}})
		}
	}
	return list
}

// ops are a transaction's operations by phase: objects are created
// before anything refers to them and deleted after nothing does.
type ops struct {
	create, rules, mapDeletes, mapAdds, elements []knftables.Object
	staleChains, staleSets                       []string
	// shared is how the counts of the shared sets' elements change.
	shared map[string]map[string]int
}

// incremental is the transaction that changes the table from the last
// state to want.
func (a *applier) incremental(want *state) *knftables.Transaction {
	tx := a.nft.NewTransaction()
	emit(tx, a.changes(want).list())
	return tx
}

// changes are the operations for what differs between the last state and
// want: the fixed part, and the fragments of the Services that changed.
func (a *applier) changes(want *state) *ops {
	var o ops
	diffRuleset(a.last.fixed, want.fixed, &o)
	// Only the fragments that are not the very ones applied last are
	// looked into (in a stable order, for a stable transaction).
	empty := newRuleset()
	var changed, gone []string
	for key, f := range want.frags {
		if a.last.frags[key] != f {
			changed = append(changed, key)
		}
	}
	for key := range a.last.frags {
		if _, ok := want.frags[key]; !ok {
			gone = append(gone, key)
		}
	}
	slices.Sort(changed)
	slices.Sort(gone)
	for _, key := range changed {
		old, ok := a.last.frags[key]
		if !ok {
			old = empty
		}
		diffRuleset(old, want.frags[key], &o)
	}
	for _, key := range gone {
		diffRuleset(a.last.frags[key], empty, &o)
	}
	// The shared sets change where an element's count goes to or from 0.
	o.shared = map[string]map[string]int{}
	count := func(f *ruleset, by int) {
		for name, elements := range f.shared() {
			for _, e := range elements {
				if o.shared[name] == nil {
					o.shared[name] = map[string]int{}
				}
				o.shared[name][e] += by
			}
		}
	}
	for _, key := range changed {
		if old, ok := a.last.frags[key]; ok {
			count(old, -1)
		}
		count(want.frags[key], 1)
	}
	for _, key := range gone {
		count(a.last.frags[key], -1)
	}
	for _, name := range sharedSets {
		var gone, added []string
		for e, by := range o.shared[name] {
			before := a.shared[name][e]
			switch after := before + by; {
			case before == 0 && after > 0:
				added = append(added, e)
			case before > 0 && after == 0:
				gone = append(gone, e)
			}
		}
		o.setElements(name, gone, added)
	}
	return &o
}

// commitShared counts the shared sets' elements as the table now holds
// them: from scratch after a full sync, else by o's changes.
func (a *applier) commitShared(want *state, o *ops) {
	if o == nil || a.shared == nil {
		a.shared = want.sharedCounts()
		return
	}
	for name, changes := range o.shared {
		counts := a.shared[name]
		for e, by := range changes {
			if counts[e] += by; counts[e] <= 0 {
				delete(counts, e)
			}
		}
	}
}

// verb is what an operation does to its object.
type verb int

const (
	verbAdd verb = iota
	verbDelete
	verbFlush
)

// op is one operation of a transaction.
type op struct {
	verb verb
	obj  knftables.Object
}

// list is the operations in their phases' order.
func (o *ops) list() []op {
	var list []op
	for _, phase := range [][]knftables.Object{o.create, o.rules, o.mapDeletes, o.mapAdds, o.elements} {
		for _, obj := range phase {
			switch x := obj.(type) {
			case deleteOp:
				list = append(list, op{verbDelete, x.Object})
			case flushOp:
				list = append(list, op{verbFlush, x.Object})
			default:
				list = append(list, op{verbAdd, obj})
			}
		}
	}
	slices.Sort(o.staleChains)
	for _, name := range o.staleChains {
		list = append(list, op{verbFlush, &knftables.Chain{Name: name}})
	}
	for _, name := range o.staleChains {
		list = append(list, op{verbDelete, &knftables.Chain{Name: name}})
	}
	slices.Sort(o.staleSets)
	for _, name := range o.staleSets {
		list = append(list, op{verbDelete, &knftables.Set{Name: name}})
	}
	return list
}

// emit writes the operations to tx.
func emit(tx *knftables.Transaction, list []op) {
	for _, o := range list {
		switch o.verb {
		case verbDelete:
			tx.Delete(o.obj)
		case verbFlush:
			tx.Flush(o.obj)
		default:
			tx.Add(o.obj)
		}
	}
}

// setElements deletes gone from set name and adds added, each in order.
func (o *ops) setElements(name string, gone, added []string) {
	slices.Sort(gone)
	slices.Sort(added)
	for _, e := range gone {
		o.elements = append(o.elements, deleteOp{&knftables.Element{Set: name, Key: strings.Split(e, " . ")}})
	}
	for _, e := range added {
		o.elements = append(o.elements, &knftables.Element{Set: name, Key: strings.Split(e, " . ")})
	}
}

// deleteOp and flushOp mark operations other than add in an ops list.
type deleteOp struct{ knftables.Object }
type flushOp struct{ knftables.Object }

// diffRuleset adds to o what turns old into now.
func diffRuleset(old, now *ruleset, o *ops) {
	for _, name := range slices.Sorted(maps.Keys(now.sets)) {
		s, before := now.sets[name], old.sets[name]
		if _, had := old.sets[name]; !had {
			o.create = append(o.create, setObject(name, s))
		}
		if s.dynamic {
			continue
		}
		var gone, added []string
		for e := range before.elements {
			if !s.elements[e] {
				gone = append(gone, e)
			}
		}
		for e := range s.elements {
			if !before.elements[e] {
				added = append(added, e)
			}
		}
		o.setElements(name, gone, added)
	}
	names := slices.Sorted(maps.Keys(now.chains))
	for _, name := range names {
		spec, before := now.chains[name], old.chains[name]
		_, had := old.chains[name]
		if !had {
			if spec.base != nil {
				c := *spec.base
				o.create = append(o.create, &c)
			} else {
				o.create = append(o.create, &knftables.Chain{Name: name})
			}
		} else if slices.Equal(spec.rules, before.rules) {
			continue
		} else {
			o.rules = append(o.rules, flushOp{&knftables.Chain{Name: name}})
		}
		for _, r := range spec.rules {
			o.rules = append(o.rules, &knftables.Rule{Chain: name, Rule: r})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(now.maps)) {
		entries, before := now.maps[name], old.maps[name]
		for _, k := range slices.Sorted(maps.Keys(before)) {
			if v, ok := entries[k]; !ok || v != before[k] {
				o.mapDeletes = append(o.mapDeletes, deleteOp{element(name, k, "")})
			}
		}
		for _, k := range slices.Sorted(maps.Keys(entries)) {
			if v, ok := before[k]; !ok || v != entries[k] {
				o.mapAdds = append(o.mapAdds, element(name, k, entries[k]))
			}
		}
	}
	for name := range old.chains {
		if _, ok := now.chains[name]; !ok {
			o.staleChains = append(o.staleChains, name)
		}
	}
	for name := range old.sets {
		if _, ok := now.sets[name]; !ok {
			o.staleSets = append(o.staleSets, name)
		}
	}
}

func toSet(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, e := range list {
		m[e] = true
	}
	return m
}
