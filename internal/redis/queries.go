package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// QueryTTL is how long a persisted query stays in Redis after it was last
// registered; a client that finds it gone sends it again, as after a restart.
const QueryTTL = 24 * time.Hour

// StringCache is the shape of gqlgen's graphql.Cache[string], which QueryCache
// implements and wraps.
type StringCache interface {
	Get(ctx context.Context, key string) (string, bool)
	Add(ctx context.Context, key, value string)
}

// QueryCache is the automatic persisted-query cache shared by every instance: a
// query registered through one runs by its hash on all. The instance's own
// cache stands in front: a hash is looked up there first, queries found in
// Redis are kept there, and while Redis is down it is the whole cache, as for a
// single instance.
type QueryCache struct {
	c     *Client
	local StringCache
}

var _ StringCache = (*QueryCache)(nil)

// NewQueryCache returns a QueryCache through c in front of which local stands.
func NewQueryCache(c *Client, local StringCache) *QueryCache {
	return &QueryCache{c: c, local: local}
}

// queryKey names the Redis key of a persisted query, or "" for a hash that is
// not a SHA-256 in hex, which no registration can have made.
func queryKey(hash string) string {
	if len(hash) != sha256.Size*2 {
		return ""
	}
	if _, err := hex.DecodeString(hash); err != nil {
		return ""
	}
	return Prefix + "apq:" + hash
}

// Get returns the query of hash from the local cache or, failing that, from
// Redis. A query read from Redis is used only if it has that hash.
func (q *QueryCache) Get(ctx context.Context, hash string) (string, bool) {
	if v, ok := q.local.Get(ctx, hash); ok {
		return v, true
	}
	key := queryKey(hash)
	if key == "" || !q.c.Up() {
		return "", false
	}
	octx, cancel := op(ctx)
	defer cancel()
	v, err := q.c.redis().Get(octx, key).Result()
	if err != nil {
		q.c.fail(err)
		return "", false
	}
	if sum := sha256.Sum256([]byte(v)); hex.EncodeToString(sum[:]) != hash {
		return "", false
	}
	q.local.Add(ctx, hash, v)
	return v, true
}

// Add keeps query under hash locally and, for QueryTTL, in Redis.
func (q *QueryCache) Add(ctx context.Context, hash, query string) {
	q.local.Add(ctx, hash, query)
	key := queryKey(hash)
	if key == "" || !q.c.Up() {
		return
	}
	octx, cancel := op(ctx)
	defer cancel()
	if err := q.c.redis().Set(octx, key, query, QueryTTL).Err(); err != nil {
		q.c.fail(err)
	}
}
