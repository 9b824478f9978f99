package proxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
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
	// buffer is the size of conn's socket buffers.
	buffer int
	// batches counts the batches applied.
	batches int
}

// Socket buffer sizes: at least 4 MiB, and room for a batch's messages
// and answers (a rule takes up to ~300 bytes, its answer less).
const (
	minSocketBuffer = 4 << 20
	bytesPerOp      = 1024
)

// socketBuffers sets a netlink socket's buffers to size bytes, past the
// system's default limits (as nft does; needs CAP_NET_ADMIN).
func socketBuffers(size int) nftables.SockOption {
	return func(c *netlink.Conn) error {
		raw, err := c.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if err := raw.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, size)
			if serr == nil {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size)
			}
		}); err != nil {
			return err
		}
		return serr
	}
}

func newNetlinkWriter(table string) *netlinkWriter { return &netlinkWriter{table: table} }

// step queues one operation on a connection.
type step func(c *nftables.Conn, t *nftables.Table) error

// run applies list when it can all be expressed, and says whether it did.
func (w *netlinkWriter) run(list []op) (bool, error) {
	steps := make([]step, 0, len(list))
	// Consecutive elements of one set go in one message (up to
	// elementsPerMessage), as nft sends them.
	var group *elementGroup
	for _, o := range list {
		if e, ok := o.obj.(*knftables.Element); ok {
			name, isMap, elem, ok := compileElement(o.verb, e)
			if !ok {
				return false, nil
			}
			if group == nil || group.name != name || group.verb != o.verb || len(group.elems) == elementsPerMessage {
				group = &elementGroup{name: name, isMap: isMap, verb: o.verb}
				steps = append(steps, group.step)
			}
			group.elems = append(group.elems, elem)
			continue
		}
		group = nil
		s, ok := compileOp(o.verb, o.obj)
		if !ok {
			return false, nil
		}
		steps = append(steps, s)
	}
	if len(steps) == 0 {
		return false, nil
	}
	// The kernel takes a batch in one message and answers each
	// operation: the socket's buffers must hold them all.
	if err := w.connect(max(minSocketBuffer, bytesPerOp*len(steps))); err != nil {
		return false, err
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
	w.batches++
	return true, nil
}

// connect makes sure of a connection whose socket buffers hold size
// bytes.
func (w *netlinkWriter) connect(size int) error {
	if w.conn != nil && size <= w.buffer {
		return nil
	}
	w.close()
	c, err := nftables.New(nftables.AsLasting(), nftables.WithSockOptions(socketBuffers(size)))
	if err != nil {
		return fmt.Errorf("netlink connection to nftables: %w", err)
	}
	w.conn, w.buffer = c, size
	return nil
}

// existing lists the table's chains, sets and maps. (knftables lists
// through nft's JSON output, which takes seconds at 5,000 chains.)
func (w *netlinkWriter) existing() (existing, error) {
	var e existing
	if err := w.connect(minSocketBuffer); err != nil {
		return e, err
	}
	t := &nftables.Table{Name: w.table, Family: nftables.TableFamilyIPv4}
	if _, err := w.conn.ListTableOfFamily(w.table, nftables.TableFamilyIPv4); errors.Is(err, unix.ENOENT) {
		return e, nil
	} else if err != nil {
		w.close()
		return e, fmt.Errorf("listing table %s: %w", w.table, err)
	}
	e.table = true
	chains, err := w.conn.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		w.close()
		return e, fmt.Errorf("listing the chains of table %s: %w", w.table, err)
	}
	for _, c := range chains {
		if c.Table != nil && c.Table.Name == w.table {
			e.chains = append(e.chains, c.Name)
		}
	}
	sets, err := w.conn.GetSets(t)
	if err != nil {
		w.close()
		return e, fmt.Errorf("listing the sets of table %s: %w", w.table, err)
	}
	for _, s := range sets {
		if s.Anonymous || strings.HasPrefix(s.Name, "__") {
			continue // a rule's own, as in "ip daddr { … }"
		}
		if s.IsMap {
			e.maps = append(e.maps, s.Name)
		} else {
			e.sets = append(e.sets, s.Name)
		}
	}
	return e, nil
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
	case *knftables.Table:
		// The table exists before a netlink batch (apply creates it
		// through nft, with its comment): adding it again changes nothing.
		if v != verbAdd {
			return nil, false
		}
		return func(c *nftables.Conn, t *nftables.Table) error { c.AddTable(t); return nil }, true
	case *knftables.Chain:
		return compileChain(v, o)
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
		if o.Comment != nil || o.Handle != nil || o.Size != nil || o.Policy != nil || o.TypeOf != "" || o.AutoMerge != nil {
			return nil, false
		}
		return compileSet(v, o.Name, o.Type, "", o.Flags, o.Timeout)
	case *knftables.Map:
		if o.Comment != nil || o.Handle != nil || o.Size != nil || o.Policy != nil || o.TypeOf != "" || len(o.Flags) > 0 || o.Timeout != nil {
			return nil, false
		}
		key, value, _ := strings.Cut(o.Type, " : ")
		if v == verbAdd && value == "" {
			return nil, false
		}
		return compileSet(v, o.Name, key, value, nil, nil)
	}
	return nil, false
}

// chainHooks and chainPriorities are the base chains' hooks and the
// named priorities nft knows.
var (
	chainHooks = map[knftables.BaseChainHook]*nftables.ChainHook{
		knftables.PreroutingHook: nftables.ChainHookPrerouting, knftables.InputHook: nftables.ChainHookInput,
		knftables.ForwardHook: nftables.ChainHookForward, knftables.OutputHook: nftables.ChainHookOutput,
		knftables.PostroutingHook: nftables.ChainHookPostrouting,
	}
	chainPriorities = map[string]int32{"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100}
)

// priority parses "NAME", "NAME + N", "NAME - N" or "N".
func priority(p knftables.BaseChainPriority) (int32, bool) {
	f := strings.Fields(string(p))
	base, ok := chainPriorities[f[0]]
	if !ok {
		n, err := strconv.ParseInt(f[0], 10, 32)
		if err != nil {
			return 0, false
		}
		base = int32(n)
	}
	if len(f) == 1 {
		return base, true
	}
	n, err := strconv.ParseInt(f[len(f)-1], 10, 32)
	if len(f) != 3 || err != nil || f[1] != "+" && f[1] != "-" {
		return 0, false
	}
	if f[1] == "-" {
		n = -n
	}
	return base + int32(n), true
}

func compileChain(v verb, o *knftables.Chain) (step, bool) {
	if o.Comment != nil || o.Handle != nil || o.Device != nil {
		return nil, false
	}
	chain := nftables.Chain{Name: o.Name}
	if o.Type != nil || o.Hook != nil || o.Priority != nil {
		if v != verbAdd || o.Type == nil || o.Hook == nil || o.Priority == nil {
			return nil, false
		}
		hook, ok := chainHooks[*o.Hook]
		prio, okPrio := priority(*o.Priority)
		if !ok || !okPrio || *o.Type != knftables.FilterType && *o.Type != knftables.NATType {
			return nil, false
		}
		chain.Type, chain.Hooknum, chain.Priority = nftables.ChainType(*o.Type), hook, nftables.ChainPriorityRef(nftables.ChainPriority(prio))
	}
	return func(c *nftables.Conn, t *nftables.Table) error {
		ch := chain
		ch.Table = t
		switch v {
		case verbAdd:
			c.AddChain(&ch)
		case verbFlush:
			c.FlushChain(&ch)
		default:
			c.DelChain(&ch)
		}
		return nil
	}, true
}

// setTypes are the data types of the proxy's sets and maps.
var setTypes = map[string]nftables.SetDatatype{"ipv4_addr": nftables.TypeIPAddr, "inet_proto": nftables.TypeInetProto,
	"inet_service": nftables.TypeInetService, "verdict": nftables.TypeVerdict}

// compileSet adds, flushes or deletes a set (a map when value is set).
func compileSet(v verb, name, key, value string, flags []knftables.SetFlag, timeout *time.Duration) (step, bool) {
	set := nftables.Set{Name: name}
	if v == verbAdd {
		var types []nftables.SetDatatype
		for _, f := range strings.Split(key, " . ") {
			typ, ok := setTypes[f]
			if !ok || f == "verdict" {
				return nil, false
			}
			types = append(types, typ)
		}
		set.KeyType = types[0]
		if len(types) > 1 {
			set.KeyType = nftables.MustConcatSetType(types...)
		}
		if value != "" {
			typ, ok := setTypes[value]
			if !ok {
				return nil, false
			}
			set.IsMap, set.DataType = true, typ
		}
		for _, f := range flags {
			switch f {
			case knftables.DynamicFlag:
				set.Dynamic = true
			case knftables.TimeoutFlag:
				set.HasTimeout = true
			default:
				return nil, false
			}
		}
		if timeout != nil {
			set.HasTimeout, set.Timeout = true, *timeout
		}
	}
	return func(c *nftables.Conn, t *nftables.Table) error {
		s := set
		s.Table = t
		switch v {
		case verbAdd:
			return c.AddSet(&s, nil)
		case verbFlush:
			c.FlushSet(&s)
		default:
			c.DelSet(&s)
		}
		return nil
	}, true
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

// elementsPerMessage keeps a message's element list within a netlink
// attribute's 64 KiB.
const elementsPerMessage = 256

// elementGroup is elements added to or deleted from one set in one
// message.
type elementGroup struct {
	name  string
	isMap bool
	verb  verb
	elems []nftables.SetElement
}

func (g *elementGroup) step(c *nftables.Conn, t *nftables.Table) error {
	set := &nftables.Set{Name: g.name, Table: t, IsMap: g.isMap}
	if g.verb == verbDelete {
		return c.SetDeleteElements(set, g.elems)
	}
	return c.SetAddElements(set, g.elems)
}

// compileElement is an element of one of the table's fixed sets or maps
// in the kernel's encoding.
func compileElement(v verb, e *knftables.Element) (name string, isMap bool, elem nftables.SetElement, ok bool) {
	name = e.Set
	if e.Map != "" {
		name, isMap = e.Map, true
	}
	types, known := keyTypes[name]
	if !known || len(e.Key) != len(types) || e.Comment != nil || v == verbFlush {
		return "", false, elem, false
	}
	for i, field := range e.Key {
		b, ok := encodeField(types[i], field)
		if !ok {
			return "", false, elem, false
		}
		if len(types) > 1 {
			// Each field of a concatenation fills whole 32-bit words.
			b = append(b, make([]byte, (4-len(b)%4)%4)...)
		}
		elem.Key = append(elem.Key, b...)
	}
	if v == verbAdd && isMap {
		verdict, ok := compileVerdict(strings.Join(e.Value, " "))
		if !ok {
			return "", false, elem, false
		}
		elem.VerdictData = verdict
	} else if v == verbAdd && len(e.Value) > 0 {
		return "", false, elem, false
	}
	return name, isMap, elem, true
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

// compileVerdict parses "goto CHAIN", "jump CHAIN", "drop", "accept" or
// "return".
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
	case len(f) == 1 && f[0] == "return":
		return &expr.Verdict{Kind: expr.VerdictReturn}, true
	}
	return nil, false
}

// Registers as nft allocates them: the 16-byte register 1 for a single
// value, then the 4-byte registers 9, 10, … for the further fields of a
// concatenation.
const (
	reg1  = 1
	reg2  = 2
	reg9  = 9
	reg10 = 10
)

// native is a 32-bit value in the host's byte order (marks, conntrack
// state bits, route types).
func native(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

func payload(offset uint32, reg uint32) *expr.Payload {
	return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4}
}

// IPv4 header offsets of the addresses.
const (
	offSaddr = 12
	offDaddr = 16
)

// clause is one match or statement of a rule: it recognises itself at the
// start of the tokens and returns its expressions and how many tokens it
// took.
type clause func(t []string) (exprs []expr.Any, n int, ok bool)

// clauses are the matches and statements the proxy's rules are made of;
// compileRule tries them in order at each position.
var clauses = []clause{
	// ct state new
	func(t []string) ([]expr.Any, int, bool) {
		if !tokens(t, "ct", "state", "new") {
			return nil, 0, false
		}
		return []expr.Any{&expr.Ct{Key: expr.CtKeySTATE, Register: reg1},
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: native(expr.CtStateBitNEW), Xor: native(0)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: reg1, Data: native(0)}}, 3, true
	},
	// ip daddr . meta l4proto . th dport vmap @MAP
	func(t []string) ([]expr.Any, int, bool) {
		if !tokens(t, "ip", "daddr", ".", "meta", "l4proto", ".", "th", "dport", "vmap") || len(t) < 10 || !isRef(t[9]) {
			return nil, 0, false
		}
		return []expr.Any{payload(offDaddr, reg1), &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg9}, dport(reg10),
			&expr.Lookup{SourceRegister: reg1, SetName: t[9][1:], IsDestRegSet: true, DestRegister: 0}}, 10, true
	},
	// meta l4proto . th dport vmap @MAP
	func(t []string) ([]expr.Any, int, bool) {
		if !tokens(t, "meta", "l4proto", ".", "th", "dport", "vmap") || len(t) < 7 || !isRef(t[6]) {
			return nil, 0, false
		}
		return []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1}, dport(reg9),
			&expr.Lookup{SourceRegister: reg1, SetName: t[6][1:], IsDestRegSet: true, DestRegister: 0}}, 7, true
	},
	// ip saddr . ip daddr @SET
	func(t []string) ([]expr.Any, int, bool) {
		if !tokens(t, "ip", "saddr", ".", "ip", "daddr") || len(t) < 6 || !isRef(t[5]) {
			return nil, 0, false
		}
		return []expr.Any{payload(offSaddr, reg1), payload(offDaddr, reg9), &expr.Lookup{SourceRegister: reg1, SetName: t[5][1:]}}, 6, true
	},
	// ip saddr|daddr @SET
	func(t []string) ([]expr.Any, int, bool) {
		if len(t) < 3 || t[0] != "ip" || !isRef(t[2]) {
			return nil, 0, false
		}
		off, ok := map[string]uint32{"saddr": offSaddr, "daddr": offDaddr}[t[1]]
		if !ok {
			return nil, 0, false
		}
		return []expr.Any{payload(off, reg1), &expr.Lookup{SourceRegister: reg1, SetName: t[2][1:]}}, 3, true
	},
	// ip saddr|daddr ADDRESS[/BITS], as nft compiles it: whole bytes of
	// the address compared, or the address masked when the prefix ends
	// inside a byte
	func(t []string) ([]expr.Any, int, bool) {
		if len(t) < 3 || t[0] != "ip" {
			return nil, 0, false
		}
		off, ok := map[string]uint32{"saddr": offSaddr, "daddr": offDaddr}[t[1]]
		prefix, err := netip.ParsePrefix(t[2])
		if err != nil {
			var addr netip.Addr
			addr, err = netip.ParseAddr(t[2])
			prefix = netip.PrefixFrom(addr, 32)
		}
		if !ok || err != nil || !prefix.Addr().Is4() || prefix.Masked() != prefix {
			return nil, 0, false
		}
		network := prefix.Addr().As4()
		bits := prefix.Bits()
		if bits > 0 && bits%8 == 0 {
			n := uint32(bits / 8)
			return []expr.Any{&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
				&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: network[:n]}}, 3, true
		}
		mask := net.CIDRMask(bits, 32)
		return []expr.Any{payload(off, reg1),
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: network[:]}}, 3, true
	},
	// iifname [!=] "NAME"
	func(t []string) ([]expr.Any, int, bool) {
		if len(t) < 2 || t[0] != "iifname" {
			return nil, 0, false
		}
		op, n := expr.CmpOpEq, 2
		if t[1] == "!=" {
			op, n = expr.CmpOpNeq, 3
		}
		if len(t) < n {
			return nil, 0, false
		}
		name, err := strconv.Unquote(t[n-1])
		if err != nil || len(name) == 0 || len(name) >= unix.IFNAMSIZ {
			return nil, 0, false
		}
		// Interface names compare as 16 bytes, zero-padded.
		data := make([]byte, unix.IFNAMSIZ)
		copy(data, name)
		return []expr.Any{&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: reg1}, &expr.Cmp{Op: op, Register: reg1, Data: data}}, n, true
	},
	// fib saddr type local
	func(t []string) ([]expr.Any, int, bool) {
		if !tokens(t, "fib", "saddr", "type", "local") {
			return nil, 0, false
		}
		return []expr.Any{&expr.Fib{Register: reg1, FlagSADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: native(unix.RTN_LOCAL)}}, 4, true
	},
	// meta mark & MASK == 0
	func(t []string) ([]expr.Any, int, bool) {
		if !tokens(t, "meta", "mark", "&") || len(t) < 6 || t[4] != "==" || t[5] != "0" {
			return nil, 0, false
		}
		mask, ok := hex32(t[3])
		if !ok {
			return nil, 0, false
		}
		return []expr.Any{&expr.Meta{Key: expr.MetaKeyMARK, Register: reg1},
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: native(mask), Xor: native(0)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: native(0)}}, 6, true
	},
	// meta mark set meta mark | BIT, meta mark set meta mark ^ BIT
	func(t []string) ([]expr.Any, int, bool) {
		if !tokens(t, "meta", "mark", "set", "meta", "mark") || len(t) < 7 {
			return nil, 0, false
		}
		bit, ok := hex32(t[6])
		var mask uint32
		switch t[5] {
		case "|":
			mask = ^bit
		case "^":
			mask = 0xffffffff
		default:
			ok = false
		}
		if !ok {
			return nil, 0, false
		}
		return []expr.Any{&expr.Meta{Key: expr.MetaKeyMARK, Register: reg1},
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: native(mask), Xor: native(bit)},
			&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: reg1}}, 7, true
	},
	// numgen random|inc mod N == 0
	func(t []string) ([]expr.Any, int, bool) {
		if len(t) < 6 || t[0] != "numgen" || t[2] != "mod" || t[4] != "==" || t[5] != "0" {
			return nil, 0, false
		}
		typ, ok := map[string]uint32{"random": unix.NFT_NG_RANDOM, "inc": unix.NFT_NG_INCREMENTAL}[t[1]]
		mod, err := strconv.ParseUint(t[3], 10, 32)
		if !ok || err != nil {
			return nil, 0, false
		}
		return []expr.Any{&expr.Numgen{Register: reg1, Modulus: uint32(mod), Type: typ},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: native(0)}}, 6, true
	},
	// jhash ip saddr mod N seed 0xS == 0
	func(t []string) ([]expr.Any, int, bool) {
		if !tokens(t, "jhash", "ip", "saddr", "mod") || len(t) < 9 || t[5] != "seed" || t[7] != "==" || t[8] != "0" {
			return nil, 0, false
		}
		mod, err := strconv.ParseUint(t[4], 10, 32)
		seed, ok := hex32(t[6])
		if err != nil || !ok || seed == 0 {
			return nil, 0, false
		}
		return []expr.Any{payload(offSaddr, reg2),
			&expr.Hash{SourceRegister: reg2, DestRegister: reg1, Length: 4, Modulus: uint32(mod), Seed: seed, Type: expr.HashTypeJenkins},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: native(0)}}, 9, true
	},
	// meta l4proto P
	func(t []string) ([]expr.Any, int, bool) {
		if !tokens(t, "meta", "l4proto") || len(t) < 3 {
			return nil, 0, false
		}
		p, ok := protocols[t[2]]
		if !ok {
			return nil, 0, false
		}
		return []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{p}}}, 3, true
	},
	// dnat to IP:PORT
	func(t []string) ([]expr.Any, int, bool) {
		if !tokens(t, "dnat", "to") || len(t) < 3 {
			return nil, 0, false
		}
		to, err := netip.ParseAddrPort(t[2])
		if err != nil || !to.Addr().Is4() {
			return nil, 0, false
		}
		ip := to.Addr().As4()
		return []expr.Any{&expr.Immediate{Register: reg1, Data: ip[:]},
			&expr.Immediate{Register: reg2, Data: binary.BigEndian.AppendUint16(nil, to.Port())},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: reg1, RegProtoMin: reg2, Specified: true}}, 3, true
	},
	// update @SET { ip saddr }
	func(t []string) ([]expr.Any, int, bool) {
		if len(t) < 6 || t[0] != "update" || !isRef(t[1]) || !tokens(t[2:], "{", "ip", "saddr", "}") {
			return nil, 0, false
		}
		return []expr.Any{payload(offSaddr, reg1),
			&expr.Dynset{SrcRegKey: reg1, SetName: t[1][1:], Operation: unix.NFT_DYNSET_OP_UPDATE}}, 6, true
	},
	// masquerade fully-random
	func(t []string) ([]expr.Any, int, bool) {
		if !tokens(t, "masquerade", "fully-random") {
			return nil, 0, false
		}
		return []expr.Any{&expr.Masq{FullyRandom: true}}, 2, true
	},
	// reject: ICMP port unreachable, nft's default
	func(t []string) ([]expr.Any, int, bool) {
		if !tokens(t, "reject") {
			return nil, 0, false
		}
		return []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: icmpPortUnreachable}}, 1, true
	},
	// goto CHAIN, jump CHAIN, drop, accept, return
	func(t []string) ([]expr.Any, int, bool) {
		for n := 1; n <= 2 && n <= len(t); n++ {
			if v, ok := compileVerdict(strings.Join(t[:n], " ")); ok {
				return []expr.Any{v}, n, true
			}
		}
		return nil, 0, false
	},
}

func dport(reg uint32) *expr.Payload {
	return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}
}

// tokens says whether t starts with want.
func tokens(t []string, want ...string) bool {
	return len(t) >= len(want) && slices.Equal(t[:len(want)], want)
}

// isRef is a named set or map reference, "@NAME".
func isRef(s string) bool { return len(s) > 1 && s[0] == '@' }

func hex32(s string) (uint32, bool) {
	if !strings.HasPrefix(s, "0x") {
		return 0, false
	}
	v, err := strconv.ParseUint(s[2:], 16, 32)
	return uint32(v), err == nil
}

// compileRule turns a rule's text into the expressions nft makes of it,
// clause by clause, when every clause is one of clauses.
func compileRule(text string) ([]expr.Any, bool) {
	t := strings.Fields(text)
	var exprs []expr.Any
	for len(t) > 0 {
		matched := false
		for _, c := range clauses {
			if e, n, ok := c(t); ok {
				exprs, t, matched = append(exprs, e...), t[n:], true
				break
			}
		}
		if !matched {
			return nil, false
		}
	}
	return exprs, len(exprs) > 0
}

// icmpPortUnreachable is the ICMP code nft's reject sends by default.
const icmpPortUnreachable = 3
