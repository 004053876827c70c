package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// testSSOSessions: a stored session reads back; only one of two claims of
// the same due check wins; the grant is replaced; Put forgets expired
// sessions; bad input is refused and a missing session is ErrNotFound.
func testSSOSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := store.SSOSession{ID: []byte("sso-a"), Grant: []byte("sealed-1"), CheckAt: t0.Add(5 * time.Minute), ExpiresAt: t0.Add(8 * time.Hour)}
	old := store.SSOSession{ID: []byte("sso-old"), Grant: []byte("g"), CheckAt: t0, ExpiresAt: t0.Add(time.Minute)}
	must(t, s.PutSSOSession(ctx, old, t0))
	must(t, s.PutSSOSession(ctx, a, t0))
	got, err := s.GetSSOSession(ctx, a.ID)
	must(t, err)
	if !bytes.Equal(got.Grant, a.Grant) || !got.CheckAt.Equal(a.CheckAt) || !got.ExpiresAt.Equal(a.ExpiresAt) {
		t.Fatalf("read back %+v, want %+v", got, a)
	}
	next := t0.Add(10 * time.Minute)
	if won, err := s.ClaimSSOCheck(ctx, a.ID, a.CheckAt, next); err != nil || !won {
		t.Fatalf("first claim: %v %v", won, err)
	}
	if won, err := s.ClaimSSOCheck(ctx, a.ID, a.CheckAt, next.Add(time.Minute)); err != nil || won {
		t.Fatalf("second claim of the same check: %v %v", won, err)
	}
	must(t, s.SetSSOGrant(ctx, a.ID, []byte("sealed-2")))
	if got, _ := s.GetSSOSession(ctx, a.ID); string(got.Grant) != "sealed-2" || !got.CheckAt.Equal(next) {
		t.Fatalf("after claim and new grant: %+v", got)
	}
	// A later Put forgets the sessions that expired before it.
	must(t, s.PutSSOSession(ctx, store.SSOSession{ID: []byte("sso-b"), Grant: []byte("g"), CheckAt: t0, ExpiresAt: t0.Add(time.Hour)}, t0.Add(2*time.Minute)))
	if _, err := s.GetSSOSession(ctx, old.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired session kept: %v", err)
	}
	must(t, s.DeleteSSOSession(ctx, a.ID))
	must(t, s.DeleteSSOSession(ctx, a.ID)) // twice is fine
	if _, err := s.GetSSOSession(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted session: %v", err)
	}
	if err := s.SetSSOGrant(ctx, a.ID, []byte("x")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("grant of a deleted session: %v", err)
	}
	if won, err := s.ClaimSSOCheck(ctx, a.ID, a.CheckAt, next); err != nil || won {
		t.Fatalf("claim on a deleted session: %v %v", won, err)
	}
	for _, bad := range []store.SSOSession{
		{ID: nil, Grant: []byte("g"), CheckAt: t0, ExpiresAt: t0},
		{ID: []byte("x"), Grant: nil, CheckAt: t0, ExpiresAt: t0},
		{ID: []byte("x"), Grant: make([]byte, store.MaxSSOGrant+1), CheckAt: t0, ExpiresAt: t0},
		{ID: []byte("x"), Grant: []byte("g"), ExpiresAt: t0},
	} {
		if err := s.PutSSOSession(ctx, bad, t0); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("put %d-byte id, %d-byte grant: %v", len(bad.ID), len(bad.Grant), err)
		}
	}
	if _, err := s.GetSSOSession(ctx, make([]byte, store.MaxAdminSessionID+1)); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("get with a long id: %v", err)
	}
}
