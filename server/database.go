package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/slipwayhq/slipway/server/keyseal"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/postgres"
	"github.com/slipwayhq/slipway/server/store/sqlite"
)

// OpenStore opens the configured database: PostgreSQL when cfg.DatabaseURL
// is a postgres:// URL (migrated on open), otherwise SQLite at
// <DataDir>/slipway.db. The caller closes it.
func OpenStore(ctx context.Context, cfg Config) (store.Store, error) {
	return OpenStoreLogged(ctx, cfg, nil)
}

// OpenStoreLogged is OpenStore with the logger that reports the SQLite
// heartbeat journal's replays and fold failures (nil: slog.Default()).
func OpenStoreLogged(ctx context.Context, cfg Config, log *slog.Logger) (store.Store, error) {
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
	// Heartbeats are acknowledged once in the journal beside the database
	// and folded into it in the background (sqlite/journal.go).
	st, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "slipway.db"),
		sqlite.Options{HeartbeatJournal: filepath.Join(cfg.DataDir, "heartbeats"), Logger: log})
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

// SigningKeys returns st's session signing keys sealed at rest with the
// key-encryption key of cfg.SecretKeyFile (server/keyseal). Without one,
// a single server (SQLite) creates DataDir/secret.key; a store shared by
// replicas (PostgreSQL) keeps the keys unsealed and logs a warning, since
// a key generated here would differ from the other replicas'.
func SigningKeys(cfg Config, st store.Store, log *slog.Logger) (store.SigningKeyStore, error) {
	path, create := cfg.SecretKeyFile, false
	if path == "" {
		if _, shared := st.(locker); shared {
			log.Warn("session signing keys are stored unencrypted in the database; set SLIPWAY_SECRET_KEY_FILE to a file of 32 random bytes (the same on every replica) to seal them")
			return st, nil
		}
		dir := cfg.DataDir
		if dir == "" {
			dir = Config{}.Default().DataDir
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("server: data dir: %w", err)
		}
		path, create = filepath.Join(dir, "secret.key"), true
	}
	kek, err := keyseal.LoadOrCreate(path, create)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	ks, err := keyseal.New(st, kek)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	// Keys stored before sealing was enabled are sealed now; a key that
	// does not open with this file fails here, before anything is served.
	if n, err := ks.SealStored(context.Background()); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	} else if n > 0 {
		log.Info("sealed session signing keys stored before SLIPWAY_SECRET_KEY_FILE was set", "keys", n)
	}
	return ks, nil
}
