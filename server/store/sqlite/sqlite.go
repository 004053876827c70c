// Package sqlite implements store.Store on an embedded SQLite database
// (modernc.org/sqlite, pure Go): WAL mode, one writer connection, a small
// pool of readers and embedded, versioned migrations.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/internal/journal"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/sqlcol"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ store.Store = (*Store)(nil)

// Options tunes the database; the zero value is safe.
type Options struct {
	// Synchronous is SQLite's synchronous pragma. Default: "FULL" (an
	// acknowledged write survives power loss). "OFF" is only for seeding.
	Synchronous string
	// Readers is the size of the read connection pool. Default: 4.
	Readers int
	// CacheKB is SQLite's page cache per read connection, in KiB.
	// Default: 2000 (SQLite's own default).
	CacheKB int
	// WriterCacheKB is the page cache of the one write connection, in KiB.
	// Heartbeats update rows spread over the whole machines table and
	// heartbeat index, and a software list writes ~300 places of the
	// software search index; with the default cache most of those pages
	// are read back from the file on every batch. Default: 32768.
	WriterCacheKB int

	// HeartbeatJournal, when set, is the directory of the heartbeat journal
	// (journal.go): RecordHeartbeats returns once the batch is fdatasync'ed
	// there, and the heartbeats are folded into the database in large
	// transactions. Empty: each batch is its own transaction.
	HeartbeatJournal string
	// FoldInterval is how often the journal is folded. Default: 2s.
	FoldInterval time.Duration
	// FoldBatch is the most heartbeats per fold transaction; this many
	// waiting also starts a fold at once. Default: 32768.
	FoldBatch int
	// MaxUnfolded is how many journaled heartbeats may wait for a fold
	// (while the database fails) before RecordHeartbeats refuses more with
	// ErrJournalFull. Default: 1,048,576.
	MaxUnfolded int
	// Logger reports journal replays and fold failures. Default: slog.Default().
	Logger *slog.Logger
}

// walCheckpointPages is the write connection's wal_autocheckpoint (up to
// ~40 MiB of WAL with 4 KiB pages).
const walCheckpointPages = 10000

// Store is the SQLite implementation of store.Store.
type Store struct {
	w *sql.DB // exactly one connection: SQLite has one writer
	r *sql.DB

	getToken    *sql.Stmt // the hot read of every heartbeat, prepared once
	tokens      *tokenCache
	softwareIDs *sqlcol.SoftwareCache
	sqlcol.SoftwareReader

	// Group commit of software reports (software.go).
	swReqs   chan *softwareReq
	swStop   chan struct{}
	swDone   chan struct{}
	stopOnce sync.Once

	hj *beatJournal // nil without Options.HeartbeatJournal
}

// Open opens (creating if needed) the database file at path and migrates it.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.Synchronous == "" {
		opts.Synchronous = "FULL"
	}
	switch opts.Synchronous {
	case "OFF", "NORMAL", "FULL", "EXTRA":
	default:
		return nil, fmt.Errorf("sqlite: bad synchronous %q", opts.Synchronous)
	}
	if opts.Readers <= 0 {
		opts.Readers = 4
	}
	if opts.CacheKB <= 0 {
		opts.CacheKB = 2000
	}
	if opts.WriterCacheKB <= 0 {
		opts.WriterCacheKB = 32768
	}
	if opts.FoldInterval <= 0 {
		opts.FoldInterval = defaultFoldInterval
	}
	if opts.FoldBatch <= 0 {
		opts.FoldBatch = defaultFoldBatch
	}
	if opts.MaxUnfolded <= 0 {
		opts.MaxUnfolded = defaultMaxUnfolded
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	// Create the file 0600 first: SQLite gives -wal and -shm the same mode,
	// and the database holds the session signing keys.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, fmt.Errorf("sqlite: create %s: %w", path, err)
	} else {
		f.Close()
	}
	dsnWith := func(cacheKB int) string {
		q := url.Values{}
		for _, p := range []string{
			// temp_store: statement journals (multi-row upserts) in memory,
			// not in a temporary file written through syscalls.
			"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(ON)", "temp_store(MEMORY)",
			"synchronous(" + opts.Synchronous + ")", fmt.Sprintf("cache_size(-%d)", cacheKB),
		} {
			q.Add("_pragma", p)
		}
		return "file:" + path + "?" + q.Encode()
	}
	dsn := dsnWith(opts.CacheKB)
	// The writer checkpoints every walCheckpointPages WAL pages instead of
	// SQLite's 1000: heartbeats dirty pages spread over the machines table
	// and the history index, and a longer interval copies each such page to
	// the database once for several of its versions in the WAL.
	w, err := sql.Open("sqlite", dsnWith(opts.WriterCacheKB)+"&"+url.Values{"_pragma": {
		fmt.Sprintf("wal_autocheckpoint(%d)", walCheckpointPages)}}.Encode()+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w, tokens: newTokenCache(), softwareIDs: sqlcol.NewSoftwareCache()}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(opts.Readers)
	r.SetMaxIdleConns(opts.Readers)
	s.r = r
	s.SoftwareReader = sqlcol.SoftwareReader{Query: query(r), Param: param, Wrap: wrap}
	s.swReqs, s.swStop, s.swDone = make(chan *softwareReq), make(chan struct{}), make(chan struct{})
	go s.softwareLoop()
	if s.getToken, err = r.PrepareContext(ctx, getTokenSQL); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: prepare: %w", err)
	}
	if opts.HeartbeatJournal != "" {
		err := s.openJournal(ctx, opts)
		switch {
		case errors.Is(err, journal.ErrLocked):
			// Another process (the running server) owns the journal: this one
			// (a CLI command) uses the database directly and may miss the last
			// seconds of heartbeats, which that process has not folded yet.
			opts.Logger.Debug("heartbeat journal in use by another process; using the database directly", "dir", opts.HeartbeatJournal)
		case err != nil:
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// Close closes both connection pools.
func (s *Store) Close() error {
	jerr := s.closeJournal()
	s.stopOnce.Do(func() {
		close(s.swStop)
		<-s.swDone
	})
	var err error
	if s.getToken != nil {
		err = s.getToken.Close()
	}
	return errors.Join(jerr, err, s.r.Close(), s.w.Close())
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx,
		"CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"); err != nil {
		return fmt.Errorf("sqlite: migrations table: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("sqlite: list migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("sqlite: migration %s: bad version: %w", base, err)
		}
		if err := s.apply(ctx, v, name); err != nil {
			return fmt.Errorf("sqlite: migration %s: %w", base, err)
		}
	}
	return nil
}

func (s *Store) apply(ctx context.Context, version int, name string) error {
	body, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = ?", version).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
			version, time.Now().UnixMilli())
		return err
	})
}

// tx runs f in a write transaction.
func (s *Store) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
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
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrNotFound)
	}
	var se *sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3lib.SQLITE_CONSTRAINT_UNIQUE:
			return fmt.Errorf("sqlite: %s: %w: %w", op, store.ErrConflict, err)
		}
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// nullJSON stores empty JSON as NULL.
func nullJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// rawJSON reads a nullable JSON column.
func rawJSON(v sql.NullString) []byte {
	if !v.Valid || v.String == "" {
		return nil
	}
	return []byte(v.String)
}
