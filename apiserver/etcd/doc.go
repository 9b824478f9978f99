// Package etcd runs an embedded single-member etcd for the API server.
//
// Clients reach it over a unix socket in the data directory, so that any
// number of servers can run on one machine without port collisions; the
// peer listener, which a single member never dials, takes a free loopback
// port. The same package also serves `skiff etcd`, the etcd that envtest
// starts, with etcd's own client URL flags.
package etcd
