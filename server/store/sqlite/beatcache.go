package sqlite

import (
	"context"
	"sync"
)

// beatEntry is what the heartbeat writer remembers of a machine: the key of
// its machine_heartbeat row and the agent version its machines row holds.
type beatEntry struct {
	key     int64
	version string
}

// beatCache lets RecordHeartbeats address a machine's heartbeat row by its
// integer key and skip the agent-version write when the version did not
// change, instead of two lookups by the text machine ID per heartbeat.
//
// It needs no invalidation to stay correct: keys are never reused
// (AUTOINCREMENT, migration 0015), so a cached key whose row is gone
// (machine deleted, perhaps recreated under the same ID) updates nothing,
// and the writer then looks the machine up by ID and replaces the entry. The
// version is only written by machine inserts (a new row, hence a new key)
// and by heartbeats, which go through here. Entries are put only after
// their transaction committed.
type beatCache struct {
	mu sync.Mutex
	m  map[string]beatEntry
}

// maxBeatEntries bounds memory (~100 bytes per entry); past it the cache restarts.
const maxBeatEntries = 1 << 20

func (c *beatCache) get(machineID string) (beatEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[machineID]
	return e, ok
}

// put records the entries of a committed batch.
func (c *beatCache) put(ids []string, es []beatEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m)+len(ids) > maxBeatEntries {
		c.m = make(map[string]beatEntry, len(ids))
	}
	for i, id := range ids {
		c.m[id] = es[i]
	}
}

// loadBeats fills the cache with every machine's key and agent version (up
// to maxBeatEntries), so that heartbeats after a restart take the short path
// at once rather than after each machine's first heartbeat.
func (s *Store) loadBeats(ctx context.Context) error {
	rows, err := s.w.QueryContext(ctx, `SELECT h.machine_id, h.key, m.agent_version
		FROM machine_heartbeat h JOIN machines m ON m.id = h.machine_id LIMIT ?`, maxBeatEntries)
	if err != nil {
		return err
	}
	defer rows.Close()
	var ids []string
	var es []beatEntry
	for rows.Next() {
		var id string
		var e beatEntry
		if err := rows.Scan(&id, &e.key, &e.version); err != nil {
			return err
		}
		ids, es = append(ids, id), append(es, e)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	s.beats.put(ids, es)
	return nil
}

// drop forgets a machine (its row was not found by key).
func (c *beatCache) drop(machineID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, machineID)
}
