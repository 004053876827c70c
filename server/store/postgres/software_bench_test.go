package postgres_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/slipwayhq/slipway/internal/pgtest"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/postgres"
	"github.com/slipwayhq/slipway/server/store/storetest"
)

// BenchmarkSoftware: see storetest.BenchSoftware (run with -benchtime 1x;
// SLIPWAY_BENCH_SW_MACHINES scales it). Size is the software tables with
// their indexes and TOAST; ANALYZE runs after the ingest.
//
// SLIPWAY_BENCH_SW_BULK=N is the bulk mode: all machines but the last N get
// their first list by COPY (loadSoftwareSeed; the same rows as the upload
// path, TestSoftwareSeedMatchesUploads), the last N by the upload path,
// timed. The seeded database stays in a cluster kept in
// $SLIPWAY_BENCH_CACHE_DIR/pg (default /tmp/slipway-bench/pg); each run
// works on a file copy of it (CREATE DATABASE … TEMPLATE).
// SLIPWAY_BENCH_SW_SEED_ONLY=1 only seeds it.
func BenchmarkSoftware(b *testing.B) {
	var url string
	hooks := storetest.BenchHooks{}
	if last := storetest.BenchEnv("SLIPWAY_BENCH_SW_BULK", 0); last > 0 {
		n := storetest.BenchEnv("SLIPWAY_BENCH_SW_MACHINES", 200)
		per := storetest.BenchEnv("SLIPWAY_BENCH_SW_PACKAGES", 300)
		hooks.Seeded = max(0, n-last)
		url = seededDatabase(b, n, per, hooks.Seeded)
	} else {
		url = pgtest.Start(b)
	}
	st, err := postgres.Open(b.Context(), url, postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	conn, err := pgx.Connect(b.Context(), url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(b.Context())
	hooks.Size = func() int64 {
		var n int64
		if err := conn.QueryRow(b.Context(), `SELECT sum(pg_total_relation_size(t::regclass))::bigint FROM
			unnest(array['software', 'software_machines', 'machine_software', 'machine_software_lists', 'software_history']) AS t`).Scan(&n); err != nil {
			b.Fatal(err)
		}
		return n
	}
	hooks.AfterIngest = func() {
		if _, err := conn.Exec(b.Context(), "ANALYZE"); err != nil {
			b.Fatal(err)
		}
		breakdown(b, conn)
	}
	storetest.BenchSoftware(b, st, hooks)
}

// breakdown logs the size of each software table and index.
func breakdown(b *testing.B, conn *pgx.Conn) {
	rows, err := conn.Query(b.Context(), `SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()
		AND (c.relname LIKE '%software%') ORDER BY 2 DESC`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			b.Fatal(err)
		}
		b.Logf("%-40s %12d bytes", name, n)
	}
}

// seededDatabase returns the URL of a fresh copy of the kept seeded
// database (seeding it when missing), dropped when b ends.
func seededDatabase(b *testing.B, n, per, seeded int) string {
	ctx := b.Context()
	dir := os.Getenv("SLIPWAY_BENCH_CACHE_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "slipway-bench")
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		b.Fatal(err)
	}
	_ = os.Chmod(dir, 0o711) // PostgreSQL may run as another user
	c := pgtest.Kept(b, filepath.Join(dir, "pg"))
	admin, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close(context.Background())
	name := fmt.Sprintf("software_v1_%dx%d_seeded%d", n, per, seeded)
	var found bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&found); err != nil {
		b.Fatal(err)
	}
	if !found {
		if err := seedDatabase(ctx, admin, c, name, n, per, seeded); err != nil {
			b.Fatal(err)
		}
	}
	if os.Getenv("SLIPWAY_BENCH_SW_SEED_ONLY") != "" {
		b.Skipf("seeded %s", name)
	}
	run := name + "_run"
	for _, q := range []string{"DROP DATABASE IF EXISTS " + run + " WITH (FORCE)",
		"CREATE DATABASE " + run + " TEMPLATE " + name + " STRATEGY FILE_COPY"} {
		if _, err := admin.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), c.URL("postgres"))
		if err == nil {
			_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+run+" WITH (FORCE)")
			conn.Close(context.Background())
		}
	})
	return c.URL(run)
}

// seedDatabase creates database name: migrated, n machines, the first
// seeded with their first list, analyzed.
func seedDatabase(ctx context.Context, admin *pgx.Conn, c *pgtest.Cluster, name string, n, per, seeded int) error {
	tmp := name + "_tmp"
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+tmp+" WITH (FORCE)"); err != nil {
		return err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+tmp); err != nil {
		return err
	}
	start := time.Now()
	st, err := postgres.Open(ctx, c.URL(tmp), postgres.Options{})
	if err != nil {
		return err
	}
	err = storetest.SeedSoftwareBench(ctx, st, n, per, seeded, time.Now().UTC(), func(ctx context.Context, seed *storetest.SoftwareSeed) error {
		return loadSoftwareSeed(ctx, c.URL(tmp), seed)
	})
	st.Close()
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, c.URL(tmp))
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "VACUUM ANALYZE")
	conn.Close(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "seeded %s in %.0f s\n", name, time.Since(start).Seconds())
	_, err = admin.Exec(ctx, "ALTER DATABASE "+tmp+" RENAME TO "+name)
	return err
}

// loadSoftwareSeed writes seed into the database at url (migrated,
// machines registered) by COPY in one transaction, without foreign-key
// triggers, then moves the ID sequences past the largest IDs.
func loadSoftwareSeed(ctx context.Context, url string, seed *storetest.SoftwareSeed) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		// No foreign-key triggers: the seed's keys are consistent (the
		// comparison test), and 30 M queued checks took longer than the COPY.
		if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
			return err
		}
		titles := make([][]any, len(seed.Titles))
		for i, s := range seed.Titles {
			titles[i] = []any{int64(i + 1), s.Name, strings.ToLower(s.Name), s.Version, s.Source, s.BundleID, s.Vendor, ""}
		}
		keys := make([][]any, seed.N)
		lists := make([][]any, seed.N)
		for i := range seed.N {
			keys[i] = []any{int32(i + 1), storetest.MachineID(i), "t"}
			lists[i] = []any{storetest.MachineID(i), int16(1), seed.Hash(i), int32(len(seed.Links(i))), seed.At.UnixMilli()}
		}
		machine, link := 0, 0
		links := pgx.CopyFromFunc(func() ([]any, error) {
			for machine < seed.N && link == len(seed.Links(machine)) {
				machine, link = machine+1, 0
			}
			if machine == seed.N {
				return nil, nil
			}
			link++
			return []any{int32(machine + 1), seed.Links(machine)[link-1], int16(1), int16(0), int64(0), ""}, nil
		})
		for _, cp := range []struct {
			table string
			cols  []string
			src   pgx.CopyFromSource
		}{
			{"software", []string{"id", "name", "name_key", "version", "source", "bundle_id", "vendor", "vulnerabilities"}, pgx.CopyFromRows(titles)},
			{"software_machines", []string{"id", "machine_id", "tenant_id"}, pgx.CopyFromRows(keys)},
			{"machine_software", []string{"machine_key", "software_id", "origin", "shadowed", "installed_at", "path"}, links},
			{"machine_software_lists", []string{"machine_id", "origin", "hash", "count", "updated_at"}, pgx.CopyFromRows(lists)},
		} {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{cp.table}, cp.cols, cp.src); err != nil {
				return fmt.Errorf("copy %s: %w", cp.table, err)
			}
		}
		for _, table := range []string{"software", "software_machines"} {
			if _, err := tx.Exec(ctx, fmt.Sprintf("SELECT setval(pg_get_serial_sequence('%s', 'id'), max(id)) FROM %[1]s", table)); err != nil {
				return err
			}
		}
		return nil
	})
}

// TestSoftwareSeedMatchesUploads: the bulk seeding writes exactly what the
// upload path writes (storetest.CheckSoftwareSeed).
func TestSoftwareSeedMatchesUploads(t *testing.T) {
	urls := map[store.Store]string{}
	open := func(url string) store.Store {
		st, err := postgres.Open(t.Context(), url, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		urls[st] = url
		return st
	}
	bulk, realURL := open(pgtest.Start(t)), pgtest.Start(t)
	storetest.CheckSoftwareSeed(t, bulk, func() store.Store { return open(realURL) }, func(ctx context.Context, seed *storetest.SoftwareSeed) error {
		return loadSoftwareSeed(ctx, urls[bulk], seed)
	}, func(st store.Store) string {
		conn, err := pgx.Connect(t.Context(), urls[st])
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var out strings.Builder
		for _, q := range storetest.SoftwareDumpSQL {
			rows, err := conn.Query(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				vals, err := rows.Values()
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintln(&out, vals...)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
		}
		return out.String()
	})
}
