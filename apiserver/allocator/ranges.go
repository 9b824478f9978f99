package allocator

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net"
	"strconv"

	netutils "k8s.io/utils/net"
)

// ErrFull means every value of a range is taken.
var ErrFull = errors.New("range is full")

// ErrNotInRange means a requested value lies outside the range.
var ErrNotInRange = errors.New("not in range")

// ErrAllocated means a requested value is held by someone else.
var ErrAllocated = errors.New("already allocated")

// IPRange allocates IPs of a CIDR, excluding its network and broadcast
// addresses.
type IPRange struct {
	CIDR  *net.IPNet
	store *Store
	size  int64
}

// NewIPRange allocates from cidr, recording in store.
func NewIPRange(cidr *net.IPNet, store *Store) *IPRange {
	size := netutils.RangeSize(cidr)
	if cidr.IP.To4() != nil && size > 2 {
		size -= 2 // network and broadcast
	} else if size > 1 {
		size-- // the subnet-router anycast address
	}
	return &IPRange{CIDR: cidr, store: store, size: size}
}

// Size is the number of allocatable addresses.
func (r *IPRange) Size() int64 { return r.size }

func (r *IPRange) indexed(i int64) (net.IP, error) {
	return netutils.GetIndexedIP(r.CIDR, int(i+1))
}

// Contains reports whether ip is allocatable from the range.
func (r *IPRange) Contains(ip net.IP) bool {
	if !r.CIDR.Contains(ip) {
		return false
	}
	off := netutils.BigForIP(ip).Sub(netutils.BigForIP(ip), netutils.BigForIP(r.CIDR.IP))
	return off.Sign() > 0 && off.Cmp(big.NewInt(r.size)) <= 0
}

// Allocate claims ip for owner; with dryRun it only checks.
func (r *IPRange) Allocate(ctx context.Context, ip net.IP, owner string, dryRun bool) error {
	if !r.Contains(ip) {
		return ErrNotInRange
	}
	return claim(ctx, r.store, ip.String(), owner, dryRun)
}

// AllocateNext claims a free IP for owner, starting at a random offset.
func (r *IPRange) AllocateNext(ctx context.Context, owner string, dryRun bool) (net.IP, error) {
	if r.size <= 0 {
		return nil, ErrFull
	}
	start := rand.Int64N(r.size)
	for i := int64(0); i < r.size; i++ {
		ip, err := r.indexed((start + i) % r.size)
		if err != nil {
			return nil, err
		}
		switch err := claim(ctx, r.store, ip.String(), owner, dryRun); {
		case err == nil:
			return ip, nil
		case errors.Is(err, ErrAllocated):
			continue
		default:
			return nil, err
		}
	}
	return nil, ErrFull
}

// Release frees ip if owner holds it.
func (r *IPRange) Release(ctx context.Context, ip string, owner string) error {
	return r.store.Release(ctx, ip, owner)
}

// PortRange allocates ports from Base to Base+Size-1.
type PortRange struct {
	Base, Size int
	store      *Store
}

// NewPortRange allocates ports in [base, base+size), recording in store.
func NewPortRange(base, size int, store *Store) *PortRange {
	return &PortRange{Base: base, Size: size, store: store}
}

// Contains reports whether port is in the range.
func (r *PortRange) Contains(port int) bool { return port >= r.Base && port < r.Base+r.Size }

// Allocate claims port for owner; with dryRun it only checks.
func (r *PortRange) Allocate(ctx context.Context, port int, owner string, dryRun bool) error {
	if !r.Contains(port) {
		return ErrNotInRange
	}
	return claim(ctx, r.store, strconv.Itoa(port), owner, dryRun)
}

// AllocateNext claims a free port for owner, starting at a random offset.
func (r *PortRange) AllocateNext(ctx context.Context, owner string, dryRun bool) (int, error) {
	start := rand.IntN(r.Size)
	for i := 0; i < r.Size; i++ {
		port := r.Base + (start+i)%r.Size
		switch err := claim(ctx, r.store, strconv.Itoa(port), owner, dryRun); {
		case err == nil:
			return port, nil
		case errors.Is(err, ErrAllocated):
			continue
		default:
			return 0, err
		}
	}
	return 0, ErrFull
}

// Release frees port if owner holds it.
func (r *PortRange) Release(ctx context.Context, port int, owner string) error {
	return r.store.Release(ctx, strconv.Itoa(port), owner)
}

func claim(ctx context.Context, s *Store, value, owner string, dryRun bool) error {
	if dryRun {
		holder, held, err := s.Holder(ctx, value)
		if err != nil {
			return err
		}
		if held && holder != owner {
			return ErrAllocated
		}
		return nil
	}
	ok, err := s.Claim(ctx, value, owner)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s: %w", value, ErrAllocated)
	}
	return nil
}
