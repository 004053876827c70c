package sqlite

import (
	"sync"

	"github.com/slipwayhq/slipway/server/store"
)

// tokenCache keeps machine tokens in memory so the heartbeat path does not
// read SQLite (whose per-connection page cache is reset by every commit in
// WAL mode). It is write-through: this Store is the only writer of the
// database file, and every token change here invalidates the machine's
// entries. A generation counter stops a lookup that raced with an
// invalidation from caching what it read before the change.
type tokenCache struct {
	mu        sync.Mutex
	gen       uint64
	byHash    map[string]store.Token
	byMachine map[string][]string
}

// maxCachedTokens bounds memory (~200 bytes per entry); past it the cache restarts.
const maxCachedTokens = 1 << 20

func newTokenCache() *tokenCache {
	return &tokenCache{byHash: map[string]store.Token{}, byMachine: map[string][]string{}}
}

func (c *tokenCache) get(hash []byte) (store.Token, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.byHash[string(hash)]
	return t, c.gen, ok
}

// put caches t unless something was invalidated since gen was read.
func (c *tokenCache) put(t store.Token, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.byHash) >= maxCachedTokens {
		c.byHash, c.byMachine = map[string]store.Token{}, map[string][]string{}
	}
	k := string(t.Hash)
	if _, ok := c.byHash[k]; !ok {
		c.byMachine[t.MachineID] = append(c.byMachine[t.MachineID], k)
	}
	c.byHash[k] = t
}

// forget drops every cached token of the machines.
func (c *tokenCache) forget(machineIDs ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, id := range machineIDs {
		for _, k := range c.byMachine[id] {
			delete(c.byHash, k)
		}
		delete(c.byMachine, id)
	}
}

// forgetHashes drops the tokens with these hashes.
func (c *tokenCache) forgetHashes(hashes [][]byte) {
	if len(hashes) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, h := range hashes {
		delete(c.byHash, string(h)) // the byMachine entry is harmless and cleared with the machine
	}
}
