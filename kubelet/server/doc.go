// Package server is the node agent's HTTPS endpoint, as the upstream
// kubelet's port 10250: container logs, exec, attach and port-forward,
// which the API server proxies `kubectl logs/exec/attach/port-forward/cp`
// to. Clients authenticate with a certificate of the cluster CA or a
// bearer token and are authorized by the API server (SubjectAccessReview
// on nodes/proxy, nodes/log, nodes/stats), as upstream's webhook mode.
package server
