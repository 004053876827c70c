package journal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

type rec struct {
	pos  Pos
	data string
}

func replayAll(t *testing.T, j *Journal, after Pos) ([]rec, []Problem) {
	t.Helper()
	var out []rec
	problems, err := j.Replay(after, func(p Pos, b []byte) error {
		out = append(out, rec{p, string(b)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, problems
}

func data(recs []rec) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.data)
	}
	return out
}

func appendStrings(t *testing.T, j *Journal, ss ...string) []Pos {
	t.Helper()
	var recs [][]byte
	for _, s := range ss {
		recs = append(recs, []byte(s))
	}
	pos, err := j.Append(recs)
	if err != nil {
		t.Fatal(err)
	}
	return pos
}

func TestAppendReplayRotateRemove(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir, 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p1 := appendStrings(t, j, "a", "bb")
	p2 := appendStrings(t, j, "")
	if want := (Pos{1, int64(len(magic)) + 9}); p1[0] != want || !p1[0].Less(p1[1]) || !p1[1].Less(p2[0]) {
		t.Fatalf("positions %v %v", p1, p2)
	}
	sealed := j.Rotate()
	if sealed != 1 {
		t.Fatalf("sealed %d, want 1", sealed)
	}
	p3 := appendStrings(t, j, "ccc")
	if p3[0].Segment != 2 {
		t.Fatalf("after rotate: %v", p3)
	}
	// The segment being appended to is not replayed; after Close it is.
	got, _ := replayAll(t, j, Pos{})
	if !slices.Equal(data(got), []string{"a", "bb", ""}) {
		t.Fatalf("replay while open: %q", data(got))
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	got, problems := replayAll(t, j, Pos{})
	if !slices.Equal(data(got), []string{"a", "bb", "", "ccc"}) || len(problems) > 0 {
		t.Fatalf("replay: %q %v", data(got), problems)
	}
	if got[3].pos != p3[0] || got[1].pos != p1[1] {
		t.Fatalf("replayed positions %v", got)
	}
	// Replay after a position skips up to it, across segments.
	got, _ = replayAll(t, j, p1[0])
	if !slices.Equal(data(got), []string{"bb", "", "ccc"}) {
		t.Fatalf("after %v: %q", p1[0], data(got))
	}
	got, _ = replayAll(t, j, p2[0])
	if !slices.Equal(data(got), []string{"ccc"}) {
		t.Fatalf("after %v: %q", p2[0], data(got))
	}
	// A new Open numbers after the existing segments and after min.
	j2, err := Open(dir, 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p := appendStrings(t, j2, "d"); p[0].Segment != 3 {
		t.Fatalf("reopened journal appends to %v", p)
	}
	j2.Close()
	if err := j2.Remove(2); err != nil {
		t.Fatal(err)
	}
	got, _ = replayAll(t, j2, Pos{})
	if !slices.Equal(data(got), []string{"d"}) {
		t.Fatalf("after Remove(2): %q", data(got))
	}
	j3, err := Open(dir, 41, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p := appendStrings(t, j3, "e"); p[0].Segment != 42 {
		t.Fatalf("min 41: appends to %v", p)
	}
	if err := j3.Remove(100); err != nil {
		t.Fatal(err)
	}
	if p := appendStrings(t, j3, "f"); p[0].Segment != 42 { // the open segment survives Remove
		t.Fatalf("after Remove, appends to %v", p)
	}
	j3.Close()
	got, _ = replayAll(t, j3, Pos{})
	if !slices.Equal(data(got), []string{"e", "f"}) {
		t.Fatalf("open segment removed: %q", data(got))
	}
}

func TestTooLarge(t *testing.T) {
	j, err := Open(t.TempDir(), 0, Options{MaxRecord: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := j.Append([][]byte{[]byte("ok"), []byte("12345")}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err %v, want ErrTooLarge", err)
	}
	appendStrings(t, j, "1234")
}

// segmentBytes writes one closed segment with records and returns its path and bytes.
func segmentBytes(t *testing.T, dir string, ss ...string) (string, []byte) {
	t.Helper()
	j, err := Open(dir, 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendStrings(t, j, ss...)
	j.Close()
	path := filepath.Join(dir, segmentName(j.seg))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, b
}

// A crash can cut the last write anywhere: every cut replays the complete
// records before it and reports a torn record, never corruption.
func TestTornTail(t *testing.T) {
	_, full := segmentBytes(t, t.TempDir(), "first", "second record")
	firstEnd := len(magic) + headerLen + len("first")
	for cut := 0; cut < len(full); cut++ {
		dir := t.TempDir()
		path := filepath.Join(dir, segmentName(1))
		if err := os.WriteFile(path, full[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		j, _ := Open(dir, 0, Options{})
		got, problems := replayAll(t, j, Pos{})
		want := []string(nil)
		if cut >= firstEnd {
			want = []string{"first"}
		}
		if !slices.Equal(data(got), want) {
			t.Fatalf("cut %d: replayed %q, want %q", cut, data(got), want)
		}
		if cut == firstEnd || (cut == len(magic) && cut != 0) {
			if len(problems) != 0 {
				t.Fatalf("cut %d at a record boundary: %v", cut, problems)
			}
			continue
		}
		if len(problems) != 1 || !problems[0].Torn {
			t.Fatalf("cut %d: problems %v, want one torn record", cut, problems)
		}
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("cut %d: torn segment moved: %v", cut, err)
		}
	}
}

// Damage followed by more data is corruption: the records before it are
// replayed, the segment is set aside as .corrupt, not deleted, and the
// next segments are still replayed.
func TestCorruption(t *testing.T) {
	cases := map[string]func(b []byte) []byte{
		"flipped payload byte": func(b []byte) []byte {
			b[len(magic)+headerLen+len("first")+headerLen] ^= 0xff
			return b
		},
		"flipped checksum": func(b []byte) []byte {
			b[len(magic)+headerLen+len("first")+5] ^= 0x01
			return b
		},
		"oversize length": func(b []byte) []byte {
			copy(b[len(magic)+headerLen+len("first"):], []byte{0xff, 0xff, 0xff, 0x7f})
			return b
		},
		"garbage file": func(b []byte) []byte { return bytes.Repeat([]byte("garbage!"), 100) },
		"bad magic":    func(b []byte) []byte { b[0] = 'X'; return b },
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path, b := segmentBytes(t, dir, "first", "second", "third")
			if err := os.WriteFile(path, damage(b), 0o600); err != nil {
				t.Fatal(err)
			}
			j, err := Open(dir, 0, Options{})
			if err != nil {
				t.Fatal(err)
			}
			appendStrings(t, j, "next segment")
			j.Close()
			got, problems := replayAll(t, j, Pos{})
			if len(problems) != 1 || problems[0].Torn || problems[0].Err == nil {
				t.Fatalf("problems %v, want one corruption", problems)
			}
			if _, err := os.Stat(problems[0].Moved); err != nil || problems[0].Moved == path {
				t.Fatalf("corrupt segment not kept aside: %q %v", problems[0].Moved, err)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatalf("corrupt segment still named .log: %v", err)
			}
			want := []string{"first", "next segment"}
			if name == "garbage file" || name == "bad magic" {
				want = []string{"next segment"}
			}
			if !slices.Equal(data(got), want) {
				t.Fatalf("replayed %q, want %q", data(got), want)
			}
		})
	}
}

func TestReplayStopsOnCallbackError(t *testing.T) {
	dir := t.TempDir()
	segmentBytes(t, dir, "a", "b")
	j, _ := Open(dir, 0, Options{})
	boom := errors.New("boom")
	n := 0
	_, err := j.Replay(Pos{}, func(Pos, []byte) error { n++; return boom })
	if !errors.Is(err, boom) || n != 1 {
		t.Fatalf("err %v after %d records", err, n)
	}
}

func TestIgnoresOtherFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"README", "0000000000000001.corrupt", "xyz.log", "00000000000000zz.log"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	j, err := Open(dir, 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, problems := replayAll(t, j, Pos{})
	if len(got) != 0 || len(problems) != 0 {
		t.Fatalf("replayed %v %v from non-segments", got, problems)
	}
	if p := appendStrings(t, j, "a"); p[0].Segment != 1 {
		t.Fatal(fmt.Sprint(p))
	}
}

// One Journal per directory: a second one (another process, or another
// store in this one) would replay and remove the first one's live segment.
func TestOneJournalPerDirectory(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir, 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, 0, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	j.Close()
	j2, err := Open(dir, 0, Options{})
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	j2.Close()
}

// BenchmarkAppend: one op = one batch of 8 heartbeat-sized records, written
// and fdatasync'ed (the disk's flush dominates; compare with the ingest
// benchmark in docs/benchmarks.md, issue 12 session 5).
func BenchmarkAppend(b *testing.B) {
	j, err := Open(b.TempDir(), 0, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	recs := make([][]byte, 8)
	for i := range recs {
		recs[i] = bytes.Repeat([]byte{byte(i)}, 150)
	}
	for b.Loop() {
		if _, err := j.Append(recs); err != nil {
			b.Fatal(err)
		}
	}
}
