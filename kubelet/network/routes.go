package network

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strings"
)

// RouteProto tags the routes skiff makes (ip route's protocol field), so
// that it finds and removes its own and no others.
const RouteProto = "83"

// NodeRoute is one other node: its pods' CIDR and where to send them.
type NodeRoute struct {
	PodCIDR string
	Via     string
}

// WantedRoutes are the routes to the pods of other nodes, as flannel's
// host-gw backend makes them: each node's podCIDR via its address. Nodes
// without either, on one of this host's own addresses (agents sharing a
// machine: their bridges are local) or whose podCIDR is this node's are
// left out.
func WantedRoutes(ownCIDR string, own []string, others []NodeRoute) map[string]string {
	out := map[string]string{}
	for _, n := range others {
		if n.PodCIDR == "" || n.Via == "" || n.PodCIDR == ownCIDR || slices.Contains(own, n.Via) {
			continue
		}
		if _, _, err := net.ParseCIDR(n.PodCIDR); err != nil || net.ParseIP(n.Via) == nil {
			continue
		}
		out[n.PodCIDR] = n.Via
	}
	return out
}

// SyncRoutes makes the host's skiff routes exactly want (CIDR → via),
// with iproute2, leaving routes it did not make alone.
func SyncRoutes(ctx context.Context, want map[string]string) error {
	have, err := ownRoutes(ctx)
	if err != nil {
		return err
	}
	for cidr, via := range want {
		if have[cidr] == via {
			continue
		}
		if err := ip(ctx, "route", "replace", cidr, "via", via, "proto", RouteProto); err != nil {
			return err
		}
	}
	for cidr := range have {
		if _, ok := want[cidr]; !ok {
			if err := ip(ctx, "route", "del", cidr, "proto", RouteProto); err != nil {
				return err
			}
		}
	}
	return nil
}

// ownRoutes lists the routes skiff made: CIDR → via.
func ownRoutes(ctx context.Context) (map[string]string, error) {
	out, err := exec.CommandContext(ctx, "ip", "route", "show", "proto", RouteProto).Output()
	if err != nil {
		return nil, fmt.Errorf("listing routes: %w", err)
	}
	routes := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[1] == "via" {
			routes[f[0]] = f[2]
		}
	}
	return routes, nil
}

func ip(ctx context.Context, args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
