package proxy

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

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
}

// apply makes the table hold want, all at once or not at all.
func (a *applier) apply(ctx context.Context, want *state) error {
	var tx *knftables.Transaction
	if a.last == nil {
		existing, err := a.list(ctx)
		if err != nil {
			return err
		}
		tx = a.full(want.flatten(), existing)
	} else {
		o := a.changes(want)
		if a.nl != nil {
			done, err := a.nl.run(o)
			if err != nil {
				a.last = nil
				return err
			}
			if done {
				a.last = want
				return nil
			}
		}
		tx = a.nft.NewTransaction()
		o.emit(tx)
	}
	if tx.NumOperations() > 0 {
		if err := a.nft.Run(ctx, tx); err != nil {
			a.last = nil
			return fmt.Errorf("nft transaction of %d operations: %w", tx.NumOperations(), err)
		}
	}
	a.last = want
	return nil
}

// existing is what the table holds, by kind.
type existing struct {
	chains, sets, maps []string
}

func (a *applier) list(ctx context.Context) (existing, error) {
	var e existing
	for kind, dst := range map[string]*[]string{"chains": &e.chains, "sets": &e.sets, "maps": &e.maps} {
		names, err := a.nft.List(ctx, kind)
		if err != nil && !knftables.IsNotFound(err) {
			return e, fmt.Errorf("listing the table's %s: %w", kind, err)
		}
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
func (a *applier) full(want *ruleset, ex existing) *knftables.Transaction {
	tx := a.nft.NewTransaction()
	tx.Add(&knftables.Table{Comment: knftables.PtrTo("skiff service proxy")})
	for _, name := range ex.chains {
		tx.Flush(&knftables.Chain{Name: name})
	}
	for _, name := range ex.maps {
		tx.Flush(&knftables.Map{Name: name})
	}
	for _, name := range ex.sets {
		if s, ok := want.sets[name]; ok && !s.dynamic {
			tx.Flush(&knftables.Set{Name: name})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(mapTypes)) {
		tx.Add(&knftables.Map{Name: name, Type: mapTypes[name]})
	}
	var o ops
	diffRuleset(newRuleset(), want, &o)
	o.emit(tx)
	for _, name := range ex.chains {
		if _, ok := want.chains[name]; !ok {
			tx.Delete(&knftables.Chain{Name: name})
		}
	}
	for _, name := range ex.maps {
		if _, ok := mapTypes[name]; !ok {
			tx.Delete(&knftables.Map{Name: name})
		}
	}
	for _, name := range ex.sets {
		if _, ok := want.sets[name]; !ok {
			tx.Delete(&knftables.Set{Name: name})
		}
	}
	return tx
}

// ops are a transaction's operations by phase: objects are created
// before anything refers to them and deleted after nothing does.
type ops struct {
	create, rules, mapDeletes, mapAdds, elements []knftables.Object
	staleChains, staleSets                       []string
}

// incremental is the transaction that changes the table from the last
// state to want.
func (a *applier) incremental(want *state) *knftables.Transaction {
	tx := a.nft.NewTransaction()
	a.changes(want).emit(tx)
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
	return &o
}

// verb is what an operation does to its object.
type verb int

const (
	verbAdd verb = iota
	verbDelete
	verbFlush
)

// each calls f with the operations in their phases' order.
func (o *ops) each(f func(verb, knftables.Object)) {
	for _, list := range [][]knftables.Object{o.create, o.rules, o.mapDeletes, o.mapAdds, o.elements} {
		for _, obj := range list {
			switch op := obj.(type) {
			case deleteOp:
				f(verbDelete, op.Object)
			case flushOp:
				f(verbFlush, op.Object)
			default:
				f(verbAdd, obj)
			}
		}
	}
	slices.Sort(o.staleChains)
	for _, name := range o.staleChains {
		f(verbFlush, &knftables.Chain{Name: name})
	}
	for _, name := range o.staleChains {
		f(verbDelete, &knftables.Chain{Name: name})
	}
	slices.Sort(o.staleSets)
	for _, name := range o.staleSets {
		f(verbDelete, &knftables.Set{Name: name})
	}
}

// emit writes the operations to tx.
func (o *ops) emit(tx *knftables.Transaction) {
	o.each(func(v verb, obj knftables.Object) {
		switch v {
		case verbDelete:
			tx.Delete(obj)
		case verbFlush:
			tx.Flush(obj)
		default:
			tx.Add(obj)
		}
	})
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
		slices.Sort(gone)
		slices.Sort(added)
		for _, e := range gone {
			o.elements = append(o.elements, deleteOp{&knftables.Element{Set: name, Key: strings.Split(e, " . ")}})
		}
		for _, e := range added {
			o.elements = append(o.elements, &knftables.Element{Set: name, Key: strings.Split(e, " . ")})
		}
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
