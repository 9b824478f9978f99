// Package allocator hands out Service cluster IPs and node ports without
// duplicates, also across concurrent requests and API server processes:
// each allocated value is an etcd key created in a transaction only if it
// does not exist yet, owned by the Service it was given to. A repair loop
// releases values whose Service is gone (after a crash mid-request).
package allocator
