// Package endpoints keeps the EndpointSlices and the (legacy) Endpoints
// of every Service with a selector in line with the pods it selects:
// ready, serving and terminating conditions, named target ports resolved
// per pod, publishNotReadyAddresses, hostnames for headless Services.
// EndpointSlices are reconciled by k8s.io/endpointslice, the library
// kube-controller-manager uses; Endpoints are written here.
package endpoints
