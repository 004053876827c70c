package store_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/slipwayhq/slipway/server/store"
)

func TestAuditCursor(t *testing.T) {
	for _, id := range []int64{1, 42, 1 << 62} {
		got, err := store.ParseAuditCursor(store.AuditCursor(id))
		if err != nil || got != id {
			t.Errorf("round trip %d: %d %v", id, got, err)
		}
	}
	for _, bad := range []string{"", "!!!", "MA", "LTE", "MDA3", "eA", strings.Repeat("MTIz", 10), "OTIyMzM3MjAzNjg1NDc3NTgwOA"} {
		if _, err := store.ParseAuditCursor(bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("cursor %q accepted: %v", bad, err)
		}
	}
}

func TestAuditResult(t *testing.T) {
	if got := store.AuditResult(nil); got != store.AuditOK {
		t.Fatalf("nil: %q", got)
	}
	long := errors.New(strings.Repeat("é", store.MaxAuditResult))
	got := store.AuditResult(long)
	if len(got) > store.MaxAuditResult || !utf8.ValidString(got) || len(got) < store.MaxAuditResult-1 {
		t.Fatalf("long error: %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
	if got := store.AuditResult(errors.New("bad \xff\x00byte")); got != "bad ?byte" {
		t.Fatalf("garbage error: %q", got)
	}
	e := store.AuditEntry{Action: "pause", Result: store.AuditResult(long)}
	e.At = e.At.AddDate(2026, 0, 0)
	if err := e.Validate(); err != nil {
		t.Fatalf("AuditResult output fails Validate: %v", err)
	}
}
