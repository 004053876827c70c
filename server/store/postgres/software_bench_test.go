package postgres_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/slipwayhq/slipway/internal/pgtest"
	"github.com/slipwayhq/slipway/server/store/postgres"
	"github.com/slipwayhq/slipway/server/store/storetest"
)

// BenchmarkSoftware: see storetest.BenchSoftware (run with -benchtime 1x;
// SLIPWAY_BENCH_SW_MACHINES scales it). Size is the software tables with
// their indexes and TOAST; ANALYZE runs after the ingest.
func BenchmarkSoftware(b *testing.B) {
	url := pgtest.Start(b)
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
	size := func() int64 {
		var n int64
		if err := conn.QueryRow(b.Context(), `SELECT sum(pg_total_relation_size(t::regclass))::bigint FROM
			unnest(array['software', 'software_machines', 'machine_software', 'machine_software_lists', 'software_history']) AS t`).Scan(&n); err != nil {
			b.Fatal(err)
		}
		return n
	}
	analyze := func() {
		if _, err := conn.Exec(b.Context(), "ANALYZE"); err != nil {
			b.Fatal(err)
		}
	}
	breakdown := func() {
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
	storetest.BenchSoftware(b, st, storetest.BenchHooks{Size: size, AfterIngest: func() { analyze(); breakdown() }})
}
