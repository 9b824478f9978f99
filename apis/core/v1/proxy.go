package v1

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// LoadBalancerAnnotation chooses how skiff's service proxy spreads a
// Service's new connections over its endpoints: random (the default, as kube-proxy),
// round-robin, or source-hash (one client address, one endpoint).
const LoadBalancerAnnotation = "proxy.skiff.dev/load-balancer"

// The values of LoadBalancerAnnotation.
const (
	LoadBalanceRandom     = "random"
	LoadBalanceRoundRobin = "round-robin"
	LoadBalanceSourceHash = "source-hash"
)

// ValidateLoadBalancer checks the value of LoadBalancerAnnotation.
func ValidateLoadBalancer(value string, path *field.Path) field.ErrorList {
	supported := []string{LoadBalanceRandom, LoadBalanceRoundRobin, LoadBalanceSourceHash}
	switch value {
	case LoadBalanceRandom, LoadBalanceRoundRobin, LoadBalanceSourceHash:
		return nil
	case "least-connections", "least-conn", "lc":
		return field.ErrorList{field.Invalid(path, value,
			"least-connections needs IPVS, which this node's kernel lacks (skiff's proxy uses nftables); supported values: "+strings.Join(supported, ", "))}
	}
	return field.ErrorList{field.NotSupported(path, value, supported)}
}
