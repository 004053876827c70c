package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/postgres"
	"github.com/slipwayhq/slipway/server/store/sqlite"
)

// OpenStore opens the configured database: PostgreSQL when cfg.DatabaseURL
// is a postgres:// URL (migrated on open), otherwise SQLite at
// <DataDir>/slipway.db. The caller closes it.
func OpenStore(ctx context.Context, cfg Config) (store.Store, error) {
	if cfg.DatabaseURL != "" {
		st, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{})
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		return st, nil
	}
	if cfg.DataDir == "" {
		cfg.DataDir = Config{}.Default().DataDir
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data dir: %w", err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "slipway.db"), sqlite.Options{})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return st, nil
}

// locker is implemented by stores shared between server replicas
// (PostgreSQL): WithLock runs f while no other replica runs f under name.
type locker interface {
	WithLock(ctx context.Context, name string, f func(ctx context.Context) error) error
}

// withLock runs f under the store's cross-replica lock when it has one.
// First-start work (bootstrap, the session signing key) runs under it so
// replicas starting together create one tenant and one key, not one each.
func withLock(ctx context.Context, st store.Store, name string, f func(ctx context.Context) error) error {
	if l, ok := st.(locker); ok {
		return l.WithLock(ctx, name, f)
	}
	return f(ctx)
}
