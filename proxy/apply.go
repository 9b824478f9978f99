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
// only what changed since the last applied ruleset.
type applier struct {
	nft  knftables.Interface
	last *ruleset
}

// apply makes the table hold want, all at once or not at all.
func (a *applier) apply(ctx context.Context, want *ruleset) error {
	var tx *knftables.Transaction
	if a.last == nil {
		existing, err := a.list(ctx)
		if err != nil {
			return err
		}
		tx = a.full(want, existing)
	} else {
		tx = a.incremental(want)
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

func (a *applier) addChain(tx *knftables.Transaction, name string, spec chainSpec) {
	if spec.base != nil {
		c := *spec.base
		tx.Add(&c)
		return
	}
	tx.Add(&knftables.Chain{Name: name})
}

func addRules(tx *knftables.Transaction, chain string, rules []string) {
	for _, r := range rules {
		tx.Add(&knftables.Rule{Chain: chain, Rule: r})
	}
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

// full rewrites the table: every chain flushed and filled, every map and
// static set refilled, and what is no longer wanted deleted. Dynamic
// sets (session affinity) keep their entries.
func (a *applier) full(want *ruleset, ex existing) *knftables.Transaction {
	tx := a.nft.NewTransaction()
	tx.Add(&knftables.Table{Comment: knftables.PtrTo("skiff service proxy")})
	// Empty what exists first, so that stale chains lose their references.
	for _, name := range ex.chains {
		tx.Flush(&knftables.Chain{Name: name})
	}
	for _, name := range ex.maps {
		tx.Flush(&knftables.Map{Name: name})
	}
	for _, name := range slices.Sorted(maps.Keys(want.sets)) {
		s := want.sets[name]
		tx.Add(setObject(name, s))
		if !s.dynamic {
			tx.Flush(setObject(name, s))
			for _, e := range s.elements {
				tx.Add(&knftables.Element{Set: name, Key: strings.Split(e, " . ")})
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want.maps)) {
		tx.Add(&knftables.Map{Name: name, Type: want.mapTypes[name]})
	}
	names := slices.Sorted(maps.Keys(want.chains))
	for _, name := range names {
		a.addChain(tx, name, want.chains[name])
	}
	for _, name := range names {
		addRules(tx, name, want.chains[name].rules)
	}
	for _, name := range slices.Sorted(maps.Keys(want.maps)) {
		for _, k := range slices.Sorted(maps.Keys(want.maps[name])) {
			tx.Add(element(name, k, want.maps[name][k]))
		}
	}
	for _, name := range ex.chains {
		if _, ok := want.chains[name]; !ok {
			tx.Delete(&knftables.Chain{Name: name})
		}
	}
	for _, name := range ex.maps {
		if _, ok := want.maps[name]; !ok {
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

// incremental changes what differs between the last ruleset and want.
func (a *applier) incremental(want *ruleset) *knftables.Transaction {
	last := a.last
	tx := a.nft.NewTransaction()
	for _, name := range slices.Sorted(maps.Keys(want.sets)) {
		s, old := want.sets[name], last.sets[name]
		if _, had := last.sets[name]; !had {
			tx.Add(setObject(name, s))
		}
		if s.dynamic {
			continue
		}
		now, before := toSet(s.elements), toSet(old.elements)
		for _, e := range old.elements {
			if !now[e] {
				tx.Delete(&knftables.Element{Set: name, Key: strings.Split(e, " . ")})
			}
		}
		for _, e := range s.elements {
			if !before[e] {
				tx.Add(&knftables.Element{Set: name, Key: strings.Split(e, " . ")})
			}
		}
	}
	names := slices.Sorted(maps.Keys(want.chains))
	for _, name := range names {
		if _, had := last.chains[name]; !had {
			a.addChain(tx, name, want.chains[name])
		}
	}
	for _, name := range names {
		spec, old := want.chains[name], last.chains[name]
		if _, had := last.chains[name]; had {
			if slices.Equal(spec.rules, old.rules) {
				continue
			}
			tx.Flush(&knftables.Chain{Name: name})
		}
		addRules(tx, name, spec.rules)
	}
	for _, name := range slices.Sorted(maps.Keys(want.maps)) {
		now, old := want.maps[name], last.maps[name]
		for _, k := range slices.Sorted(maps.Keys(old)) {
			if v, ok := now[k]; !ok || v != old[k] {
				tx.Delete(element(name, k, ""))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(now)) {
			if v, ok := old[k]; !ok || v != now[k] {
				tx.Add(element(name, k, now[k]))
			}
		}
	}
	var stale []string
	for name := range last.chains {
		if _, ok := want.chains[name]; !ok {
			stale = append(stale, name)
		}
	}
	slices.Sort(stale)
	for _, name := range stale {
		tx.Flush(&knftables.Chain{Name: name})
	}
	for _, name := range stale {
		tx.Delete(&knftables.Chain{Name: name})
	}
	for _, name := range slices.Sorted(maps.Keys(last.sets)) {
		if _, ok := want.sets[name]; !ok {
			tx.Delete(&knftables.Set{Name: name})
		}
	}
	return tx
}

func toSet(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, e := range list {
		m[e] = true
	}
	return m
}
