// Package server runs `skiff server`: one process with an embedded etcd,
// the API server and, as later components land, the controllers and the
// node agent. It owns the data directory: the PKI, the admin kubeconfig,
// the agent join token and etcd's data.
package server
