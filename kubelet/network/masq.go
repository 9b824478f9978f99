package network

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"sigs.k8s.io/knftables"
)

// TableName is the nftables table of the node whose pods are on bridge:
// "skiff" for the default bridge, "skiff-BRIDGE" for others, so that
// several agents (tests, benchmarks) on one machine keep apart.
func TableName(bridge string) string {
	if bridge == "" || bridge == DefaultBridge {
		return "skiff"
	}
	return "skiff-" + bridge
}

// ServicesTableName is the table of the node's service proxy, beside
// TableName's.
func ServicesTableName(bridge string) string { return TableName(bridge) + "-services" }

const masqChain = "pod-egress"

// SyncMasquerade programs, in the node's own table, the source NAT of
// traffic that leaves the pods' subnet: packets from podCIDR to anything
// outside it (multicast excepted) leave with the node's address, as the
// CNI bridge plugin's ipMasq would, but with one rule per node instead of
// an iptables chain per pod. The transaction replaces the chain's rules
// at once; a failed one changes nothing.
func SyncMasquerade(ctx context.Context, bridge, podCIDR string) error {
	prefix, err := netip.ParsePrefix(podCIDR)
	if err != nil {
		return fmt.Errorf("podCIDR %q: %w", podCIDR, err)
	}
	family, proto, multicast := knftables.IPv4Family, "ip", "224.0.0.0/4"
	if prefix.Addr().Is6() {
		family, proto, multicast = knftables.IPv6Family, "ip6", "ff00::/8"
	}
	nft, err := knftables.New(family, TableName(bridge))
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	// A table of the other family, left by an earlier podCIDR, goes.
	other := knftables.IPv6Family
	if family == knftables.IPv6Family {
		other = knftables.IPv4Family
	}
	if err := removeTable(ctx, other, TableName(bridge)); err != nil {
		return err
	}
	tx := nft.NewTransaction()
	tx.Add(&knftables.Table{Comment: knftables.PtrTo("skiff node agent: pod network")})
	tx.Add(&knftables.Chain{
		Name: masqChain, Type: knftables.PtrTo(knftables.NATType), Hook: knftables.PtrTo(knftables.PostroutingHook),
		Priority: knftables.PtrTo(knftables.SNATPriority),
	})
	tx.Flush(&knftables.Chain{Name: masqChain})
	subnet := prefix.Masked().String()
	tx.Add(&knftables.Rule{Chain: masqChain, Rule: knftables.Concat(
		proto, "saddr", subnet, proto, "daddr", "!=", subnet, proto, "daddr", "!=", multicast, "masquerade")})
	if err := nft.Run(ctx, tx); err != nil {
		return fmt.Errorf("programming pod masquerade: %w", err)
	}
	return nil
}

// RemoveTable deletes the node's tables (both families, the service
// proxy's too); missing ones are not an error.
func RemoveTable(ctx context.Context, bridge string) error {
	var errs []error
	for _, name := range []string{TableName(bridge), ServicesTableName(bridge)} {
		for _, family := range []knftables.Family{knftables.IPv4Family, knftables.IPv6Family} {
			errs = append(errs, removeTable(ctx, family, name))
		}
	}
	return errors.Join(errs...)
}

func removeTable(ctx context.Context, family knftables.Family, name string) error {
	nft, err := knftables.New(family, name)
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	if _, err := nft.List(ctx, "chains"); knftables.IsNotFound(err) {
		return nil
	}
	tx := nft.NewTransaction()
	tx.Delete(&knftables.Table{})
	if err := nft.Run(ctx, tx); err != nil && !knftables.IsNotFound(err) {
		return fmt.Errorf("removing table %s %s: %w", family, name, err)
	}
	return nil
}

// RemoveNode removes what a node's pod network leaves on the host once
// its pods are gone: the bridge and the node's nftables table.
func RemoveNode(ctx context.Context, bridge string) error {
	return errors.Join(RemoveBridge(bridge), RemoveTable(ctx, bridge))
}
