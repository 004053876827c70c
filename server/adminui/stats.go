package adminui

import (
	"context"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// statsCache keeps fleet aggregates for a few seconds: with 100,000
// machines they cost tens to hundreds of milliseconds, and every open page
// would otherwise recompute them on each live update.
type statsCache struct {
	mu      sync.Mutex
	entries map[statsKey]statsEntry
}

type statsKey struct {
	tenant   string
	versions bool
}

type statsEntry struct {
	st      store.FleetStats
	expires time.Time
}

// fleetStats returns the (cached) aggregates, nil when the store has none.
func (u *UI) fleetStats(ctx context.Context, tenant string, versions bool, now time.Time) (*store.FleetStats, error) {
	if u.stats == nil {
		return nil, nil
	}
	k := statsKey{tenant, versions}
	u.cache.mu.Lock()
	e, ok := u.cache.entries[k]
	u.cache.mu.Unlock()
	if ok && now.Before(e.expires) {
		st := e.st
		return &st, nil
	}
	st, err := u.stats.FleetStats(ctx, store.StatsQuery{TenantID: tenant, OnlineAfter: now.Add(-u.opts.StaleAfter),
		OfflineBefore: now.Add(-u.opts.OfflineAfter), UpdatedAfter: now.Add(-time.Hour), Versions: versions})
	if err != nil {
		return nil, err
	}
	u.cache.mu.Lock()
	if u.cache.entries == nil || len(u.cache.entries) > 1000 {
		u.cache.entries = map[statsKey]statsEntry{}
	}
	u.cache.entries[k] = statsEntry{st: st, expires: now.Add(u.opts.StatsTTL)}
	u.cache.mu.Unlock()
	return &st, nil
}
