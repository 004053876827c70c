package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// testAdminSessions: a revoked session is reported revoked (others not),
// revoking twice is fine, pruning forgets only expired revocations, and
// bad IDs are refused.
func testAdminSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := []byte("session-a-hash"), []byte("session-b-hash")
	if revoked, err := s.AdminSessionRevoked(ctx, a); err != nil || revoked {
		t.Fatalf("fresh session: %v %v", revoked, err)
	}
	must(t, s.RevokeAdminSession(ctx, a, t0.Add(time.Hour)))
	must(t, s.RevokeAdminSession(ctx, a, t0.Add(2*time.Hour))) // twice: later expiry kept
	must(t, s.RevokeAdminSession(ctx, b, t0.Add(30*time.Minute)))
	for id, want := range map[string]bool{"session-a-hash": true, "session-b-hash": true, "session-c-hash": false} {
		if got, err := s.AdminSessionRevoked(ctx, []byte(id)); err != nil || got != want {
			t.Errorf("%s revoked = %v, %v; want %v", id, got, err, want)
		}
	}
	n, err := s.PruneAdminSessions(ctx, t0.Add(90*time.Minute))
	must(t, err)
	if n != 1 {
		t.Fatalf("pruned %d, want 1 (b)", n)
	}
	if got, _ := s.AdminSessionRevoked(ctx, a); !got {
		t.Fatal("a (kept until t0+2h) was pruned at t0+90m")
	}
	if got, _ := s.AdminSessionRevoked(ctx, b); got {
		t.Fatal("b survived pruning")
	}
	for _, bad := range [][]byte{nil, {}, make([]byte, store.MaxAdminSessionID+1)} {
		if err := s.RevokeAdminSession(ctx, bad, t0); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("revoke %d-byte id: %v", len(bad), err)
		}
		if _, err := s.AdminSessionRevoked(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("check %d-byte id: %v", len(bad), err)
		}
	}
}
