package allocator

import (
	"context"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Store records which owner holds which value under a key prefix in etcd.
type Store struct {
	client *clientv3.Client
	prefix string
}

// NewStore records allocations under prefix (a path ending in "/").
func NewStore(client *clientv3.Client, prefix string) *Store {
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &Store{client: client, prefix: prefix}
}

// Claim gives value to owner if nobody holds it. It reports whether owner
// holds it afterwards (true also when owner already held it).
func (s *Store) Claim(ctx context.Context, value, owner string) (bool, error) {
	key := s.prefix + value
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, owner)).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return false, fmt.Errorf("claiming %s: %w", key, err)
	}
	if resp.Succeeded {
		return true, nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	return len(kvs) == 1 && string(kvs[0].Value) == owner, nil
}

// Holder returns who holds value, if anyone.
func (s *Store) Holder(ctx context.Context, value string) (string, bool, error) {
	resp, err := s.client.Get(ctx, s.prefix+value)
	if err != nil {
		return "", false, fmt.Errorf("reading %s%s: %w", s.prefix, value, err)
	}
	if len(resp.Kvs) == 0 {
		return "", false, nil
	}
	return string(resp.Kvs[0].Value), true, nil
}

// Release frees value if owner holds it.
func (s *Store) Release(ctx context.Context, value, owner string) error {
	key := s.prefix + value
	_, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.Value(key), "=", owner)).
		Then(clientv3.OpDelete(key)).
		Commit()
	if err != nil {
		return fmt.Errorf("releasing %s: %w", key, err)
	}
	return nil
}

// Allocation is one held value.
type Allocation struct {
	Value, Owner string
	// Revision is the etcd revision the value was last written at.
	Revision int64
}

// List returns every allocation and the etcd revision of the listing.
func (s *Store) List(ctx context.Context) ([]Allocation, int64, error) {
	resp, err := s.client.Get(ctx, s.prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("listing %s: %w", s.prefix, err)
	}
	out := make([]Allocation, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out = append(out, Allocation{Value: strings.TrimPrefix(string(kv.Key), s.prefix), Owner: string(kv.Value), Revision: kv.ModRevision})
	}
	return out, resp.Header.Revision, nil
}
