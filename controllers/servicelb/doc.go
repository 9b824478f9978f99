// Package servicelb gives LoadBalancer Services their addresses, as k3s's
// ServiceLB does without a cloud: status.loadBalancer.ingress lists the
// addresses of the cluster's Ready nodes (ExternalIP, else InternalIP),
// where every node's service proxy answers on the Service's port.
// Services with a spec.loadBalancerClass are left to that class's
// controller; simulated nodes, which carry no traffic, are not listed.
package servicelb
