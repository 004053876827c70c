package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
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
