package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/store/sqlite"
)

// TestRunSmoke runs both modes briefly so the generator keeps working; it
// asserts correctness (persistence verified), never timing.
func TestRunSmoke(t *testing.T) {
	var out bytes.Buffer
	err := run(t.Context(), options{mode: "both", machines: 300, concurrency: 4, duration: time.Second, dataDir: t.TempDir()}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"baseline (net/http", "slipway server", "acknowledged,", "stored |"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "FAILED") {
		t.Fatal(s)
	}
}

func TestSeedAndTarget(t *testing.T) {
	dir := t.TempDir()
	tokens := dir + "/tokens"
	var out bytes.Buffer
	if err := run(t.Context(), options{seedDir: dir + "/data", tokensFile: tokens, machines: 10, concurrency: 1, duration: time.Second}, &out); err != nil {
		t.Fatal(err)
	}
	got, err := readTokens(tokens)
	if err != nil || len(got) != 10 {
		t.Fatalf("tokens: %d %v", len(got), err)
	}
	if err := run(t.Context(), options{target: "http://127.0.0.1:1", machines: 1, concurrency: 1, duration: time.Second}, &out); err == nil {
		t.Fatal("-target without -tokens accepted")
	}
}

// TestRoundsSmoke alternates the two targets and still verifies every
// acknowledged heartbeat of every round; it never asserts timing.
func TestRoundsSmoke(t *testing.T) {
	var out bytes.Buffer
	err := run(t.Context(), options{mode: "both", machines: 200, concurrency: 4, duration: 300 * time.Millisecond, rounds: 3,
		dataDir: t.TempDir(), synchronous: "NORMAL", journal: true}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"| 1 | bare |", "| 2 | server |", "| 3 | bare |", "median of 3 rounds: rate ratio", "acknowledged,"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "FAILED") {
		t.Fatal(s)
	}
	if err := run(t.Context(), options{mode: "server", machines: 10, concurrency: 1, duration: time.Second, rounds: 2}, &out); err == nil {
		t.Fatal("-rounds with -mode server accepted")
	}
}

// TestSeedHistory: -history seeds that many past heartbeats per machine,
// all before the load's own, and verification still counts the load's.
func TestSeedHistory(t *testing.T) {
	dir := t.TempDir()
	if _, err := seed(t.Context(), dir, 50, 3); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "slipway.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if n, err := st.CountHeartbeats(t.Context()); err != nil || n != 150 {
		t.Fatalf("history rows = %d, %v; want 150", n, err)
	}
	hbs, err := st.ListHeartbeats(t.Context(), "bench-0000007", 10)
	if err != nil || len(hbs) != 3 || !hbs[0].At.Before(time.Now()) {
		t.Fatalf("machine 7 history = %v, %v", hbs, err)
	}
	runWithHistory(t, 40, 2)
	var out bytes.Buffer
	if err := run(t.Context(), options{mode: "server", machines: 1, history: 1, concurrency: 1, duration: time.Second, databaseURL: "postgres://127.0.0.1:1/x"}, &out); err == nil {
		t.Fatal("-history with PostgreSQL accepted")
	}
}

// TestUUIDIDs: with -uuid-ids the seeded machines have IDs as long as the
// server's, and a run stores and verifies every heartbeat under them.
func TestUUIDIDs(t *testing.T) {
	uuidIDs = true
	t.Cleanup(func() { uuidIDs = false })
	if id := benchID(7); len(id) != 36 || id == benchID(8) {
		t.Fatalf("benchID(7) = %q", id)
	}
	runWithHistory(t, 30, 2)
}

// runWithHistory runs a short server-mode load on machines machines with
// history past heartbeats each seeded first (the run verifies every
// heartbeat stored) and checks that the output reports the seeded rows.
func runWithHistory(t *testing.T, machines, history int) {
	t.Helper()
	var out bytes.Buffer
	if err := run(t.Context(), options{mode: "server", machines: machines, history: history, concurrency: 2, duration: 300 * time.Millisecond,
		dataDir: t.TempDir(), synchronous: "NORMAL", journal: true}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if want := fmt.Sprintf("and %d history rows", machines*history); !strings.Contains(out.String(), want) {
		t.Fatalf("output lacks the seeded history (%q):\n%s", want, out.String())
	}
}
