package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/pgtest"
	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/postgres"
	"github.com/slipwayhq/slipway/server/store/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// startServer runs the real server on st on a loopback port.
func startServer(t *testing.T, st store.Store, dir string) string {
	t.Helper()
	srv, err := server.New(server.Config{DataDir: dir}, server.Options{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	url, stop, err := serve(srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(); _ = srv.Close() })
	return url
}

// seedSQLite seeds dir with n machines via -seed and serves it.
func seedSQLite(t *testing.T, dir string, n int) (url, tokens string) {
	t.Helper()
	tokens = filepath.Join(t.TempDir(), "tokens")
	var out bytes.Buffer
	if err := run(t.Context(), options{seedDir: dir, tokensFile: tokens, machines: n, concurrency: 1, duration: time.Second}, &out); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "slipway.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return startServer(t, st, dir), tokens
}

// fakeCgroup makes a cgroup v1 layout under root with one group.
func fakeCgroup(t *testing.T, root, name, quota string) {
	t.Helper()
	files := map[string]string{
		"cpu/" + name + "/cpu.cfs_quota_us":  quota,
		"cpu/" + name + "/cpu.cfs_period_us": "100000\n",
		"cpu/" + name + "/cpu.stat":          "nr_periods 10\nnr_throttled 3\nthrottled_time 5000000\n",
		"cpuacct/" + name + "/cpuacct.usage": "123456789\n",
	}
	for p, body := range files {
		path := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTargetSQLite seeds a data directory, serves it, loads it through
// -target with two comma-separated URLs and -warm, and verifies with -data.
func TestTargetSQLite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	url, tokens := seedSQLite(t, dir, 200)
	root := t.TempDir()
	fakeCgroup(t, root, "g1", "40000\n")
	var out bytes.Buffer
	o := options{target: url + "," + url + "/", tokensFile: tokens, dataDir: dir, warm: true, slices: "server=g1",
		cgroupRoot: root, machines: 200, concurrency: 4, duration: time.Second}
	if err := run(t.Context(), o, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"warm-up: 400 of 400", "external " + url + " + " + url, "acknowledged,", "(incl. 400 warm-up)",
		"| server (g1) | 0.40 cores | 0.00 s | 0% | 0.0 µs | 0 | 0s |", "0 of 1 slices throttled; none at quota"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "FAILED") {
		t.Fatal(s)
	}
}

// TestTargetVerifyCatchesWrongStore: verifying against a store the load
// did not write must fail, so the check can fail.
func TestTargetVerifyCatchesWrongStore(t *testing.T) {
	url, tokens := seedSQLite(t, filepath.Join(t.TempDir(), "a"), 50)
	other := filepath.Join(t.TempDir(), "b")
	seedSQLite(t, other, 50)
	base := options{target: url, tokensFile: tokens, machines: 50, concurrency: 2, duration: 500 * time.Millisecond}
	for name, tc := range map[string]struct {
		data string
		want string
	}{
		"other store": {other, "persistence check failed"},
		"no database": {t.TempDir(), "no SQLite database"},
	} {
		t.Run(name, func(t *testing.T) {
			o := base
			o.dataDir = tc.data
			var out bytes.Buffer
			err := run(t.Context(), o, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q\n%s", err, tc.want, out.String())
			}
		})
	}
}

func TestParseSlicesRejects(t *testing.T) {
	root := t.TempDir()
	fakeCgroup(t, root, "ok", "-1\n")
	fakeCgroup(t, root, "bad", "forty\n")
	if sl, err := parseSlices(root, "a=ok"); err != nil || len(sl) != 1 || sl[0].cores != 0 {
		t.Fatalf("unlimited group: %+v %v", sl, err)
	}
	for _, spec := range []string{"ok", "=ok", "a=", "a=../ok", "a=x/y", "a=missing", "a=bad"} {
		if _, err := parseSlices(root, spec); err == nil {
			t.Errorf("%q accepted", spec)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "cpu/ok/cpu.stat"), []byte("nr_throttled many\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sl, _ := parseSlices(root, "a=ok")
	if _, err := sampleSlices(sl); err == nil {
		t.Error("garbage cpu.stat accepted")
	}
}

// TestTargetPostgres seeds PostgreSQL with -seed -database-url, serves it
// and verifies a -target run against the database.
func TestTargetPostgres(t *testing.T) {
	dbURL := pgtest.Start(t)
	boot := filepath.Join(t.TempDir(), "boot")
	tokens := filepath.Join(t.TempDir(), "tokens")
	var out bytes.Buffer
	o := options{seedDir: boot, databaseURL: dbURL, tokensFile: tokens, machines: 100, concurrency: 2, duration: time.Second}
	if err := run(t.Context(), o, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if ents, err := os.ReadDir(boot); err != nil || len(ents) == 0 {
		t.Fatalf("no bootstrap files in %s: %v", boot, err)
	}
	st, err := postgres.Open(t.Context(), dbURL, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	url := startServer(t, st, t.TempDir())
	o.seedDir, o.target = "", url
	if err := run(t.Context(), o, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if s := out.String(); !strings.Contains(s, "acknowledged,") || strings.Contains(s, "FAILED") {
		t.Fatal(s)
	}
}
