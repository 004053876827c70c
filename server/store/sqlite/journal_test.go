package sqlite_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/journal"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/sqlite"
	"github.com/slipwayhq/slipway/server/store/storetest"
)

func openJournaled(t *testing.T, dir string, opts sqlite.Options) *sqlite.Store {
	t.Helper()
	opts.HeartbeatJournal = filepath.Join(dir, "heartbeats")
	s, err := sqlite.Open(t.Context(), filepath.Join(dir, "slipway.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The whole store contract holds with the journal: every read of what a
// heartbeat changes sees the heartbeats recorded before it.
func TestConformanceJournal(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		// A fold interval far beyond any test: only the reads' settling
		// (and Close) fold.
		s := openJournaled(t, t.TempDir(), sqlite.Options{FoldInterval: time.Hour})
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// seedMachines creates n machines of tenant t.
func seedMachines(t *testing.T, s *sqlite.Store, n int) {
	t.Helper()
	ctx := t.Context()
	if err := s.CreateTenant(ctx, store.Tenant{ID: "t"}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		m := store.Machine{ID: fmt.Sprintf("m%d", i), TenantID: "t", Fingerprint: fmt.Sprint(i), Source: "agent", AgentVersion: "1.0.0"}
		if err := s.CreateMachine(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
}

func beats(n, machines int, at time.Time) []store.Heartbeat {
	hbs := make([]store.Heartbeat, n)
	for i := range hbs {
		hbs[i] = store.Heartbeat{MachineID: fmt.Sprintf("m%d", i%machines), At: at.Add(time.Duration(i) * time.Millisecond),
			Status: "ok", AgentVersion: "1.1.0", Metrics: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}
	}
	return hbs
}

// A kill -9 after heartbeats were acknowledged (journaled) but before they
// were folded: the next Open folds them, exactly once, and the state they
// carry (last seen, status, agent version) is in the machine rows.
func TestJournalCrashRecovery(t *testing.T) {
	dir := t.TempDir()
	opts := sqlite.Options{FoldInterval: time.Hour}
	s := openJournaled(t, dir, opts)
	seedMachines(t, s, 5)
	at := time.Now().UTC().Truncate(time.Millisecond)
	for range 3 {
		if err := s.RecordHeartbeats(t.Context(), beats(10, 5, at)); err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Second)
	}
	if n := s.UnfoldedHeartbeats(); n != 30 {
		t.Fatalf("unfolded %d before the crash, want 30 (the fold loop ran?)", n)
	}
	s.Crash()

	opts.FoldBatch = 7 // several fold transactions for the replay
	s = openJournaled(t, dir, opts)
	if n, err := s.CountHeartbeats(t.Context()); err != nil || n != 30 {
		t.Fatalf("after recovery: %d heartbeats, %v; want 30", n, err)
	}
	m, err := s.GetMachine(t.Context(), "m4")
	if err != nil {
		t.Fatal(err)
	}
	if m.AgentVersion != "1.1.0" || !m.LastSeenAt.Equal(at.Add(-time.Second).Add(9*time.Millisecond)) {
		t.Fatalf("machine after recovery: version %q, last seen %v", m.AgentVersion, m.LastSeenAt)
	}
	// Crash again right after the replay: nothing is folded twice.
	s.Crash()
	s = openJournaled(t, dir, opts)
	defer s.Close()
	if n, err := s.CountHeartbeats(t.Context()); err != nil || n != 30 {
		t.Fatalf("after a second open: %d heartbeats, %v; want 30", n, err)
	}
	if segs, _ := filepath.Glob(filepath.Join(dir, "heartbeats", "*.log")); len(segs) != 0 {
		t.Fatalf("folded segments left: %v", segs)
	}
}

// The fold commits its journal position with the heartbeats: segments that
// survive a crash between that commit and their removal are not replayed.
func TestJournalFoldedSegmentsNotReplayed(t *testing.T) {
	dir := t.TempDir()
	opts := sqlite.Options{FoldInterval: time.Hour}
	s := openJournaled(t, dir, opts)
	seedMachines(t, s, 3)
	if err := s.RecordHeartbeats(t.Context(), beats(6, 3, time.Now())); err != nil {
		t.Fatal(err)
	}
	saved := copyDir(t, filepath.Join(dir, "heartbeats"))
	if n, _ := s.CountHeartbeats(t.Context()); n != 6 { // folds
		t.Fatalf("%d heartbeats", n)
	}
	if err := s.RecordHeartbeats(t.Context(), beats(2, 3, time.Now())); err != nil {
		t.Fatal(err)
	}
	s.Crash()
	restore(t, saved, filepath.Join(dir, "heartbeats")) // the folded segment is back
	s = openJournaled(t, dir, opts)
	defer s.Close()
	if n, err := s.CountHeartbeats(t.Context()); err != nil || n != 8 {
		t.Fatalf("%d heartbeats, %v; want 8 (6 folded before, 2 replayed)", n, err)
	}
}

func copyDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func restore(t *testing.T, files map[string][]byte, dir string) {
	t.Helper()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// A torn last record (a crash inside the write) is ignored; a damaged
// segment is set aside and the store still opens.
func TestJournalDamagedOnOpen(t *testing.T) {
	dir := t.TempDir()
	opts := sqlite.Options{FoldInterval: time.Hour}
	s := openJournaled(t, dir, opts)
	seedMachines(t, s, 2)
	if err := s.RecordHeartbeats(t.Context(), beats(2, 2, time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordHeartbeats(t.Context(), beats(1, 2, time.Now())); err != nil {
		t.Fatal(err)
	}
	s.Crash()
	segs, _ := filepath.Glob(filepath.Join(dir, "heartbeats", "*.log"))
	if len(segs) != 1 {
		t.Fatalf("segments %v", segs)
	}
	b, _ := os.ReadFile(segs[0])
	if err := os.WriteFile(segs[0], b[:len(b)-3], 0o600); err != nil { // tear the last record
		t.Fatal(err)
	}
	s = openJournaled(t, dir, opts)
	if n, err := s.CountHeartbeats(t.Context()); err != nil || n != 2 {
		t.Fatalf("%d heartbeats, %v; want the 2 before the torn one", n, err)
	}
	if err := s.RecordHeartbeats(t.Context(), beats(3, 2, time.Now())); err != nil {
		t.Fatal(err)
	}
	s.Crash()
	segs, _ = filepath.Glob(filepath.Join(dir, "heartbeats", "*.log"))
	b, _ = os.ReadFile(segs[0])
	b[20] ^= 0xff // inside the first record, with more after it
	if err := os.WriteFile(segs[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	s = openJournaled(t, dir, opts)
	defer s.Close()
	if n, err := s.CountHeartbeats(t.Context()); err != nil || n != 2 {
		t.Fatalf("%d heartbeats, %v; want 2", n, err)
	}
	if kept, _ := filepath.Glob(filepath.Join(dir, "heartbeats", "*.corrupt")); len(kept) != 1 {
		t.Fatalf("damaged segment not kept aside: %v", kept)
	}
}

// A record that passes its checksum but is not a heartbeat this version can
// read (a newer release's journal) stops Open with a clear error; the
// journal is left as it is.
func TestJournalUnknownRecordStopsOpen(t *testing.T) {
	dir := t.TempDir()
	s := openJournaled(t, dir, sqlite.Options{})
	s.Close()
	j, err := journal.Open(filepath.Join(dir, "heartbeats"), 0, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append([][]byte{{99, 1, 2, 3}}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	_, err = sqlite.Open(t.Context(), filepath.Join(dir, "slipway.db"), sqlite.Options{HeartbeatJournal: filepath.Join(dir, "heartbeats")})
	if err == nil || !strings.Contains(err.Error(), "unknown version") || !strings.Contains(err.Error(), "segment") {
		t.Fatalf("err %v", err)
	}
	if segs, _ := filepath.Glob(filepath.Join(dir, "heartbeats", "*.log")); len(segs) != 1 {
		t.Fatalf("journal changed: %v", segs)
	}
}

func TestJournalFull(t *testing.T) {
	s := openJournaled(t, t.TempDir(), sqlite.Options{FoldInterval: time.Hour, MaxUnfolded: 3})
	defer s.Close()
	seedMachines(t, s, 1)
	if err := s.RecordHeartbeats(t.Context(), beats(2, 1, time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordHeartbeats(t.Context(), beats(2, 1, time.Now())); !errors.Is(err, sqlite.ErrJournalFull) {
		t.Fatalf("err %v, want ErrJournalFull", err)
	}
	if n, _ := s.CountHeartbeats(t.Context()); n != 2 { // folds; room again
		t.Fatalf("%d heartbeats", n)
	}
	if err := s.RecordHeartbeats(t.Context(), beats(2, 1, time.Now())); err != nil {
		t.Fatal(err)
	}
}

func TestBeatCodec(t *testing.T) {
	at := time.Date(2026, 12, 5, 1, 2, 3, 456000000, time.UTC) // milliseconds, what the database keeps
	for _, h := range []store.Heartbeat{
		{MachineID: "m", At: at},
		{MachineID: "m", At: at, Status: "ok", AgentVersion: "1.2.3", Metrics: json.RawMessage(`{"cpu":1}`),
			Inventory: json.RawMessage(`{}`), TokenHash: []byte{0, 1, 2}, TokenExpiresAt: at.Add(time.Hour)},
		{MachineID: "m", Metrics: json.RawMessage{}, Inventory: json.RawMessage{}, TokenHash: []byte{}},
	} {
		b, err := sqlite.EncodeBeat(h)
		if err != nil {
			t.Fatal(err)
		}
		got, err := sqlite.DecodeBeat(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, h) {
			t.Fatalf("round trip:\n got %#v\nwant %#v", got, h)
		}
		// Every truncation and any trailing byte is refused.
		for i := range b {
			if _, err := sqlite.DecodeBeat(b[:i]); err == nil {
				t.Fatalf("accepted a record cut at %d of %d", i, len(b))
			}
		}
		if _, err := sqlite.DecodeBeat(append(bytes.Clone(b), 0)); err == nil {
			t.Fatal("accepted a trailing byte")
		}
	}
	for name, h := range map[string]store.Heartbeat{
		"no machine":    {},
		"long machine":  {MachineID: strings.Repeat("m", 257)},
		"long status":   {MachineID: "m", Status: strings.Repeat("s", 257)},
		"large metrics": {MachineID: "m", Metrics: make(json.RawMessage, 1<<20+1)},
	} {
		if _, err := sqlite.EncodeBeat(h); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
	for name, b := range map[string][]byte{
		"empty":         {},
		"version":       {2},
		"huge length":   {1, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"length > rest": {1, 10, 'a'},
		"garbage":       bytes.Repeat([]byte{1}, 40),
	} {
		if _, err := sqlite.DecodeBeat(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// A second store on the same data directory while the first runs (a CLI
// command beside the server) leaves the first one's journal alone and
// reads the database directly.
func TestJournalInUseByAnotherStore(t *testing.T) {
	dir := t.TempDir()
	opts := sqlite.Options{FoldInterval: time.Hour}
	s := openJournaled(t, dir, opts)
	defer s.Close()
	seedMachines(t, s, 1)
	if err := s.RecordHeartbeats(t.Context(), beats(3, 1, time.Now())); err != nil {
		t.Fatal(err)
	}
	cli := openJournaled(t, dir, opts)
	if n, err := cli.CountHeartbeats(t.Context()); err != nil || n != 0 {
		t.Fatalf("second store: %d heartbeats, %v; want 0 (still in the first one's journal)", n, err)
	}
	if err := cli.Close(); err != nil {
		t.Fatal(err)
	}
	if n := s.UnfoldedHeartbeats(); n != 3 {
		t.Fatalf("first store: %d unfolded after the second one closed, want 3", n)
	}
	s.Crash()
	s = openJournaled(t, dir, opts)
	defer s.Close()
	if n, err := s.CountHeartbeats(t.Context()); err != nil || n != 3 {
		t.Fatalf("after a crash of the first store: %d heartbeats, %v; want 3", n, err)
	}
}
