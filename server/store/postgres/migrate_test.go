package postgres_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/slipwayhq/slipway/internal/pgtest"
	"github.com/slipwayhq/slipway/server/store/storetest"
)

// TestMigrationSoftwareMachineKey writes software inventory data the way a
// database migrated up to 0013 holds it (text machine IDs in
// machine_software) and opens it: migration 0014 must keep every link,
// hash and history row and page searches in machine ID order.
func TestMigrationSoftwareMachineKey(t *testing.T) {
	url := pgtest.Start(t)
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	exec := func(q string) {
		t.Helper()
		if _, err := conn.Exec(t.Context(), q); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	exec("CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)")
	names, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	for _, name := range names {
		v, err := strconv.Atoi(strings.SplitN(filepath.Base(name), "_", 2)[0])
		if err != nil || v >= 14 {
			continue
		}
		body, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		exec(string(body))
		exec(fmt.Sprintf("INSERT INTO schema_migrations (version, applied_at) VALUES (%d, 0)", v))
	}
	for _, q := range storetest.SoftwareBeforeKeySQL {
		exec(q)
	}
	storetest.CheckSoftwareAfterKey(t, open(t, url))
}
