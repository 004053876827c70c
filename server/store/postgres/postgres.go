// Package postgres implements store.Store on PostgreSQL (pgx/v5): a
// connection pool, embedded versioned migrations applied under an advisory
// lock (so replicas starting together migrate once), and no per-process
// caches, so several server replicas can share one database: a token
// revoked through one replica is refused by every other at once.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/sqlcol"
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ store.Store = (*Store)(nil)

// Options tunes the pool; the zero value is safe.
type Options struct {
	// MaxConns is the pool size. Default: 16.
	MaxConns int32
	// SkipMigrate opens without migrating (for tools that only read).
	SkipMigrate bool
}

// Store is the PostgreSQL implementation of store.Store.
type Store struct {
	pool        *pgxpool.Pool
	tokens      *tokenReader
	softwareIDs *sqlcol.SoftwareCache
	sqlcol.SoftwareReader
}

// errStoreClosed answers calls made after Close.
var errStoreClosed = errors.New("postgres: store closed")

// IsURL reports whether a database URL names PostgreSQL.
func IsURL(u string) bool {
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}

// Open connects to the database at url and applies pending migrations.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", redact(err))
	}
	cfg.MaxConns = 16
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s := &Store{pool: pool, tokens: newTokenReader(pool), softwareIDs: sqlcol.NewSoftwareCache(),
		SoftwareReader: sqlcol.SoftwareReader{Query: query(pool), Param: param, Wrap: wrap, OneStatement: true}}
	if !opts.SkipMigrate {
		if _, err := s.Migrate(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// redact drops the parse error's text, which can quote the URL (and its password).
func redact(err error) error {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return errors.New("invalid connection string")
	}
	return err
}

// Close stops the token reader and closes the pool.
func (s *Store) Close() error {
	s.tokens.close()
	s.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// WithLock runs f while holding a database-wide advisory lock named name,
// so only one replica at a time runs it (first-start bootstrap, key creation).
func (s *Store) WithLock(ctx context.Context, name string, f func(ctx context.Context) error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: lock %s: %w", name, err)
	}
	defer conn.Release()
	key := lockKey(name)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return fmt.Errorf("postgres: lock %s: %w", name, err)
	}
	defer func() {
		// Unlock even if ctx ended; a broken connection drops the lock anyway.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
			conn.Conn().Close(uctx) // do not return a connection that may still hold the lock
		}
	}()
	return f(ctx)
}

func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("slipway:" + name))
	return int64(h.Sum64())
}

// Migrate applies the embedded migrations not yet applied, under an
// advisory lock, and returns the versions it applied.
func (s *Store) Migrate(ctx context.Context) ([]int, error) {
	var applied []int
	err := s.WithLock(ctx, "migrate", func(ctx context.Context) error {
		if _, err := s.pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations
			(version integer PRIMARY KEY, applied_at bigint NOT NULL)`); err != nil {
			return fmt.Errorf("migrations table: %w", err)
		}
		names, err := fs.Glob(migrations, "migrations/*.sql")
		if err != nil {
			return err
		}
		sort.Strings(names)
		for _, name := range names {
			base := strings.TrimPrefix(name, "migrations/")
			v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
			if err != nil {
				return fmt.Errorf("migration %s: bad version: %w", base, err)
			}
			done, err := s.apply(ctx, v, name)
			if err != nil {
				return fmt.Errorf("migration %s: %w", base, err)
			}
			if done {
				applied = append(applied, v)
			}
		}
		return nil
	})
	if err != nil {
		return applied, fmt.Errorf("postgres: migrate: %w", err)
	}
	return applied, nil
}

func (s *Store) apply(ctx context.Context, version int, name string) (bool, error) {
	body, err := migrations.ReadFile(name)
	if err != nil {
		return false, err
	}
	done := false
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM schema_migrations WHERE version = $1", version).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, string(body)); err != nil {
			return err
		}
		done = true
		_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
			version, time.Now().UnixMilli())
		return err
	})
	return done, err
}

// ms and tm store times as Unix milliseconds (0 is the zero time).
var (
	ms = sqlcol.Millis
	tm = sqlcol.Time
)

// wrap maps driver errors to the store's errors.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
		return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrConflict, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// nullJSON stores empty JSON as NULL.
func nullJSON(b []byte) *string {
	if len(b) == 0 {
		return nil
	}
	s := string(b)
	return &s
}

// rawJSON reads a nullable JSON column.
var rawJSON = sqlcol.RawJSON
