package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/sqlite"
	"github.com/slipwayhq/slipway/server/store/storetest"
)

// BenchmarkSoftware: see storetest.BenchSoftware (run with -benchtime 1x;
// SLIPWAY_BENCH_SW_MACHINES scales it; SLIPWAY_BENCH_CACHE_KB sets the page
// cache, SLIPWAY_BENCH_SYNC the synchronous pragma). Size is the software
// tables and their indexes (dbstat).
//
// SLIPWAY_BENCH_SW_BULK=N is the bulk mode: all machines but the last N get
// their first list by set-based SQL (loadSoftwareSeed; the same rows as the
// upload path, TestSoftwareSeedMatchesUploads), the last N by the upload
// path, timed. The seeded database is kept in SLIPWAY_BENCH_CACHE_DIR
// (default /tmp/slipway-bench) and copied for each run;
// SLIPWAY_BENCH_SW_SEED_ONLY=1 only seeds it (outside the benchmark lock).
func BenchmarkSoftware(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.db")
	hooks := storetest.BenchHooks{}
	if last := storetest.BenchEnv("SLIPWAY_BENCH_SW_BULK", 0); last > 0 {
		n := storetest.BenchEnv("SLIPWAY_BENCH_SW_MACHINES", 200)
		per := storetest.BenchEnv("SLIPWAY_BENCH_SW_PACKAGES", 300)
		hooks.Seeded = max(0, n-last)
		cached, err := seededDB(b.Context(), n, per, hooks.Seeded)
		if err != nil {
			b.Fatal(err)
		}
		if os.Getenv("SLIPWAY_BENCH_SW_SEED_ONLY") != "" {
			b.Skipf("seeded %s", cached)
		}
		if err := copyFile(cached, path); err != nil {
			b.Fatal(err)
		}
	}
	cache, _ := strconv.Atoi(os.Getenv("SLIPWAY_BENCH_CACHE_KB"))
	st, err := sqlite.Open(b.Context(), path, sqlite.Options{Synchronous: os.Getenv("SLIPWAY_BENCH_SYNC"), CacheKB: cache})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	hooks.Size = func() int64 {
		var n int64
		if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			b.Fatal(err)
		}
		if err := db.QueryRow(`SELECT sum(pgsize) FROM dbstat WHERE name IN (SELECT name FROM sqlite_schema
			WHERE tbl_name IN ('software', 'software_machines', 'machine_software', 'machine_software_lists', 'software_history'))`).Scan(&n); err != nil {
			b.Fatal(err)
		}
		return n
	}
	storetest.BenchSoftware(b, st, hooks)
}

// seededDB returns the path of the cached database of n machines, the
// first seeded of them with their first list, seeding it when missing.
func seededDB(ctx context.Context, n, per, seeded int) (string, error) {
	dir := os.Getenv("SLIPWAY_BENCH_CACHE_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "slipway-bench")
	}
	path := filepath.Join(dir, fmt.Sprintf("software-sqlite-v1-%dx%d-seeded%d.db", n, per, seeded))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	os.Remove(tmp)
	st, err := sqlite.Open(ctx, tmp, sqlite.Options{Synchronous: "OFF"})
	if err != nil {
		return "", err
	}
	start := time.Now()
	err = storetest.SeedSoftwareBench(ctx, st, n, per, seeded, time.Now().UTC(), func(ctx context.Context, seed *storetest.SoftwareSeed) error {
		return loadSoftwareSeed(ctx, tmp, seed)
	})
	st.Close()
	if err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "seeded %s in %.0f s\n", path, time.Since(start).Seconds())
	return path, os.Rename(tmp, path)
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// loadSoftwareSeed writes seed into the database at path (migrated, machines
// registered) on a connection of its own: each machine's links in one
// INSERT … SELECT over a JSON array of its software IDs, 2,000 machines per
// transaction.
func loadSoftwareSeed(ctx context.Context, path string, seed *storetest.SoftwareSeed) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=synchronous(OFF)&_pragma=cache_size(-262144)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for i, s := range seed.Titles {
		if _, err := tx.ExecContext(ctx, `INSERT INTO software (id, name, name_key, version, source, bundle_id, vendor, vulnerabilities)
			VALUES (?, ?, ?, ?, ?, ?, ?, '')`, i+1, s.Name, strings.ToLower(s.Name), s.Version, s.Source, s.BundleID, s.Vendor); err != nil {
			return fmt.Errorf("software: %w", err)
		}
	}
	at := seed.At.UnixMilli()
	for i := range seed.N {
		if i > 0 && i%2000 == 0 {
			if err := tx.Commit(); err != nil {
				return err
			}
			if tx, err = db.BeginTx(ctx, nil); err != nil {
				return err
			}
		}
		links := seed.Links(i)
		ids, _ := json.Marshal(links)
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{"INSERT INTO software_machines (id, machine_id, tenant_id) VALUES (?, ?, 't')", []any{i + 1, storetest.MachineID(i)}},
			{`INSERT INTO machine_software (machine_key, software_id, origin, shadowed, installed_at, path)
				SELECT ?, value, 1, 0, 0, '' FROM json_each(?)`, []any{i + 1, string(ids)}},
			{"INSERT INTO machine_software_lists (machine_id, origin, hash, count, updated_at) VALUES (?, 1, ?, ?, ?)",
				[]any{storetest.MachineID(i), seed.Hash(i), len(links), at}},
		} {
			if _, err := tx.ExecContext(ctx, q.sql, q.args...); err != nil {
				return fmt.Errorf("machine %d: %w", i, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}

// TestSoftwareSeedMatchesUploads: the bulk seeding writes exactly what the
// upload path writes (storetest.CheckSoftwareSeed).
func TestSoftwareSeedMatchesUploads(t *testing.T) {
	dir := t.TempDir()
	bulkPath := filepath.Join(dir, "bulk.db")
	realPath := filepath.Join(dir, "real.db")
	bulk := open(t, bulkPath)
	paths := map[store.Store]string{bulk: bulkPath}
	real := func() store.Store {
		st := open(t, realPath)
		paths[st] = realPath
		return st
	}
	storetest.CheckSoftwareSeed(t, bulk, real, func(ctx context.Context, seed *storetest.SoftwareSeed) error {
		return loadSoftwareSeed(ctx, bulkPath, seed)
	}, func(st store.Store) string {
		db, err := sql.Open("sqlite", paths[st])
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		return dumpSQL(t, db)
	})
}

// dumpSQL runs storetest.SoftwareDumpSQL, one line per row.
func dumpSQL(t *testing.T, db *sql.DB) string {
	var out strings.Builder
	for _, q := range storetest.SoftwareDumpSQL {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&out, vals...)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out.String()
}
