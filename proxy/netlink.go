package proxy

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
	"sigs.k8s.io/knftables"
)

// netlinkWriter applies a change straight through netlink (github.com/
// google/nftables) when each of its operations is one it can express: the
// operations an endpoint change makes. Those are chains without hooks,
// the dispatch rules of service chains, goto and jump rules, elements of
// the table's fixed sets and maps, and deletions. Anything else returns
// false and goes through nft.
//
// The reason is speed. Before each transaction the nft binary reads back
// every chain of the table; at 5,000 Services that costs 25 to 50 ms, while
// the netlink batch itself commits in about 2 ms. The batch is one kernel
// transaction, all or nothing, like nft's.
type netlinkWriter struct {
	table string
	conn  *nftables.Conn
}

func newNetlinkWriter(table string) *netlinkWriter { return &netlinkWriter{table: table} }

// step queues one operation on a connection.
type step func(c *nftables.Conn, t *nftables.Table) error

// run applies o when it can all be expressed, and says whether it did.
func (w *netlinkWriter) run(o *ops) (bool, error) {
	var steps []step
	supported := true
	o.each(func(v verb, obj knftables.Object) {
		if !supported {
			return
		}
		s, ok := compileOp(v, obj)
		if !ok {
			supported = false
			return
		}
		steps = append(steps, s)
	})
	if !supported || len(steps) == 0 {
		return false, nil
	}
	if w.conn == nil {
		c, err := nftables.New(nftables.AsLasting())
		if err != nil {
			return false, fmt.Errorf("netlink connection to nftables: %w", err)
		}
		w.conn = c
	}
	t := &nftables.Table{Name: w.table, Family: nftables.TableFamilyIPv4}
	for _, s := range steps {
		if err := s(w.conn, t); err != nil {
			// Queued messages must not reach a later batch.
			w.close()
			return false, fmt.Errorf("netlink batch: %w", err)
		}
	}
	if err := w.conn.Flush(); err != nil {
		// What the socket still holds (acks of a failed batch) must not
		// be read as the next batch's answer.
		w.close()
		return false, fmt.Errorf("netlink batch of %d operations: %w", len(steps), err)
	}
	return true, nil
}

// close drops the connection; the next run opens another.
func (w *netlinkWriter) close() {
	if w.conn != nil {
		_ = w.conn.CloseLasting()
		w.conn = nil
	}
}

// compileOp turns one operation into a step, if it can.
func compileOp(v verb, obj knftables.Object) (step, bool) {
	switch o := obj.(type) {
	case *knftables.Chain:
		if o.Type != nil || o.Hook != nil || o.Priority != nil || o.Comment != nil || o.Handle != nil {
			return nil, false
		}
		chain := func(t *nftables.Table) *nftables.Chain { return &nftables.Chain{Name: o.Name, Table: t} }
		switch v {
		case verbAdd:
			return func(c *nftables.Conn, t *nftables.Table) error { c.AddChain(chain(t)); return nil }, true
		case verbFlush:
			return func(c *nftables.Conn, t *nftables.Table) error { c.FlushChain(chain(t)); return nil }, true
		default:
			return func(c *nftables.Conn, t *nftables.Table) error { c.DelChain(chain(t)); return nil }, true
		}
	case *knftables.Rule:
		if v != verbAdd || o.Index != nil || o.Handle != nil || o.Comment != nil {
			return nil, false
		}
		exprs, ok := compileRule(o.Rule)
		if !ok {
			return nil, false
		}
		return func(c *nftables.Conn, t *nftables.Table) error {
			c.AddRule(&nftables.Rule{Table: t, Chain: &nftables.Chain{Name: o.Chain, Table: t}, Exprs: exprs})
			return nil
		}, true
	case *knftables.Set:
		// Sets are created by nft (their types and flags); deleting one
		// only needs its name.
		if v != verbDelete {
			return nil, false
		}
		return func(c *nftables.Conn, t *nftables.Table) error {
			c.DelSet(&nftables.Set{Name: o.Name, Table: t})
			return nil
		}, true
	case *knftables.Element:
		return compileElement(v, o)
	}
	return nil, false
}

// keyTypes are the key types of the table's fixed sets and maps, the
// only ones whose elements the proxy writes.
var keyTypes = func() map[string][]string {
	types := map[string][]string{setClusterIPs: {"ipv4_addr"}, setNodePortIPs: {"ipv4_addr"}, setHairpin: {"ipv4_addr", "ipv4_addr"}}
	for name, typ := range mapTypes {
		key, _, _ := strings.Cut(typ, " : ")
		types[name] = strings.Split(key, " . ")
	}
	return types
}()

func compileElement(v verb, e *knftables.Element) (step, bool) {
	name, isMap := e.Set, false
	if e.Map != "" {
		name, isMap = e.Map, true
	}
	types, known := keyTypes[name]
	if !known || len(e.Key) != len(types) || e.Comment != nil || v == verbFlush {
		return nil, false
	}
	var key []byte
	for i, field := range e.Key {
		b, ok := encodeField(types[i], field)
		if !ok {
			return nil, false
		}
		if len(types) > 1 {
			// Each field of a concatenation fills whole 32-bit words.
			b = append(b, make([]byte, (4-len(b)%4)%4)...)
		}
		key = append(key, b...)
	}
	elem := nftables.SetElement{Key: key}
	if v == verbAdd && isMap {
		verdict, ok := compileVerdict(strings.Join(e.Value, " "))
		if !ok {
			return nil, false
		}
		elem.VerdictData = verdict
	} else if v == verbAdd && len(e.Value) > 0 {
		return nil, false
	}
	set := func(t *nftables.Table) *nftables.Set { return &nftables.Set{Name: name, Table: t, IsMap: isMap} }
	if v == verbDelete {
		return func(c *nftables.Conn, t *nftables.Table) error {
			return c.SetDeleteElements(set(t), []nftables.SetElement{elem})
		}, true
	}
	return func(c *nftables.Conn, t *nftables.Table) error {
		return c.SetAddElements(set(t), []nftables.SetElement{elem})
	}, true
}

// protocols are the numbers of the protocols Services use.
var protocols = map[string]byte{"tcp": unix.IPPROTO_TCP, "udp": unix.IPPROTO_UDP, "sctp": unix.IPPROTO_SCTP}

// encodeField is a key field's bytes in network order.
func encodeField(typ, value string) ([]byte, bool) {
	switch typ {
	case "ipv4_addr":
		ip, err := netip.ParseAddr(value)
		if err != nil || !ip.Is4() {
			return nil, false
		}
		b := ip.As4()
		return b[:], true
	case "inet_proto":
		p, ok := protocols[value]
		return []byte{p}, ok
	case "inet_service":
		port, err := strconv.ParseUint(value, 10, 16)
		if err != nil {
			return nil, false
		}
		return binary.BigEndian.AppendUint16(nil, uint16(port)), true
	}
	return nil, false
}

// compileVerdict parses "goto CHAIN", "jump CHAIN", "drop" or "accept".
func compileVerdict(text string) (*expr.Verdict, bool) {
	f := strings.Fields(text)
	switch {
	case len(f) == 2 && f[0] == "goto":
		return &expr.Verdict{Kind: expr.VerdictGoto, Chain: f[1]}, true
	case len(f) == 2 && f[0] == "jump":
		return &expr.Verdict{Kind: expr.VerdictJump, Chain: f[1]}, true
	case len(f) == 1 && f[0] == "drop":
		return &expr.Verdict{Kind: expr.VerdictDrop}, true
	case len(f) == 1 && f[0] == "accept":
		return &expr.Verdict{Kind: expr.VerdictAccept}, true
	}
	return nil, false
}

// compileRule turns the rule texts of dispatch and goto/jump into the
// expressions nft makes of them:
//
//	[numgen random|numgen inc mod N == 0 | jhash ip saddr mod N seed 0xS == 0] meta l4proto P dnat to IP:PORT
//	goto CHAIN | jump CHAIN
func compileRule(text string) ([]expr.Any, bool) {
	if v, ok := compileVerdict(text); ok {
		return []expr.Any{v}, true
	}
	f := strings.Fields(text)
	var exprs []expr.Any
	zero := &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0, 0, 0, 0}}
	switch {
	case len(f) >= 6 && f[0] == "numgen" && f[2] == "mod" && f[4] == "==" && f[5] == "0":
		typ, ok := map[string]uint32{"random": unix.NFT_NG_RANDOM, "inc": unix.NFT_NG_INCREMENTAL}[f[1]]
		mod, err := strconv.ParseUint(f[3], 10, 32)
		if !ok || err != nil {
			return nil, false
		}
		exprs = append(exprs, &expr.Numgen{Register: 1, Modulus: uint32(mod), Type: typ}, zero)
		f = f[6:]
	case len(f) >= 9 && f[0] == "jhash" && f[1] == "ip" && f[2] == "saddr" && f[3] == "mod" && f[5] == "seed" && f[7] == "==" && f[8] == "0":
		mod, err1 := strconv.ParseUint(f[4], 10, 32)
		seed, err2 := strconv.ParseUint(strings.TrimPrefix(f[6], "0x"), 16, 32)
		if err1 != nil || err2 != nil || seed == 0 {
			return nil, false
		}
		exprs = append(exprs,
			// The source address is bytes 12 to 15 of the IPv4 header.
			&expr.Payload{DestRegister: 2, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Hash{SourceRegister: 2, DestRegister: 1, Length: 4, Modulus: uint32(mod), Seed: uint32(seed), Type: expr.HashTypeJenkins},
			zero)
		f = f[9:]
	}
	if len(f) != 6 || f[0] != "meta" || f[1] != "l4proto" || f[3] != "dnat" || f[4] != "to" {
		return nil, false
	}
	proto, ok := protocols[f[2]]
	to, err := netip.ParseAddrPort(f[5])
	if !ok || err != nil || !to.Addr().Is4() {
		return nil, false
	}
	ip := to.Addr().As4()
	return append(exprs,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Immediate{Register: 1, Data: ip[:]},
		&expr.Immediate{Register: 2, Data: binary.BigEndian.AppendUint16(nil, to.Port())},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	), true
}
