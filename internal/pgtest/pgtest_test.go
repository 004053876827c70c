package pgtest_test

import (
	"os"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/slipwayhq/slipway/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestFreshDatabasePerTest(t *testing.T) {
	var urls []string
	for range 2 {
		t.Run("db", func(t *testing.T) {
			url := pgtest.Start(t)
			urls = append(urls, url)
			conn, err := pgx.Connect(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(t.Context())
			var n int
			if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Fatalf("fresh database has %d tables", n)
			}
			if _, err := conn.Exec(t.Context(), "CREATE TABLE x (id int)"); err != nil {
				t.Fatal(err)
			}
			var version string
			if err := conn.QueryRow(t.Context(), "SHOW server_version").Scan(&version); err != nil {
				t.Fatal(err)
			}
			t.Logf("PostgreSQL %s at %s", version, url)
		})
	}
	if len(urls) == 2 && urls[0] == urls[1] {
		t.Fatal("two tests got the same database")
	}
}

// TestDurableSettings: SLIPWAY_PG_DURABLE=1 benchmarks must get a cluster
// that syncs, the default one must not (tests would pay for fsyncs).
func TestDurableSettings(t *testing.T) {
	url := pgtest.Start(t)
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	want := "off"
	if os.Getenv("SLIPWAY_PG_DURABLE") == "1" {
		want = "on"
	}
	for _, name := range []string{"fsync", "synchronous_commit", "full_page_writes"} {
		var got string
		if err := conn.QueryRow(t.Context(), "SHOW "+name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
	if !slices.Contains(pgtest.Settings(true), "max_connections=200") || slices.Contains(pgtest.Settings(true), "fsync=off") {
		t.Errorf("durable settings %q", pgtest.Settings(true))
	}
}
