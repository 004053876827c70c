package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/pgtest"
	"github.com/slipwayhq/slipway/server/store"
)

// TestConcurrentTokenLookups drives many lookups at once, so they are
// answered in shared batch queries: each caller must get its own token (or
// ErrNotFound), and a revocation committed before a lookup starts is seen
// by it, through another connection pool (another replica) too.
func TestConcurrentTokenLookups(t *testing.T) {
	url := pgtest.Start(t)
	a, b := open(t, url), open(t, url)
	ctx := t.Context()
	if err := a.CreateTenant(ctx, store.Tenant{ID: "t"}); err != nil {
		t.Fatal(err)
	}
	const n = 300
	ms := make([]store.Machine, n)
	toks := make([]store.Token, n)
	now := time.Now()
	for i := range n {
		ms[i] = store.Machine{ID: fmt.Sprintf("m%03d", i), TenantID: "t", Source: "agent"}
		toks[i] = store.Token{Hash: fmt.Appendf(nil, "hash-%03d", i), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	if err := a.BulkRegister(ctx, ms, toks); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*n)
	for round := range 4 {
		for i := range n {
			wg.Go(func() {
				hash := fmt.Appendf(nil, "hash-%03d", i)
				if round == 3 && i%2 == 1 {
					hash = fmt.Appendf(nil, "missing-%03d", i)
				}
				tok, err := b.GetToken(ctx, hash)
				switch {
				case round == 3 && i%2 == 1:
					if !errors.Is(err, store.ErrNotFound) {
						errs <- fmt.Errorf("missing token %d: %+v, %v", i, tok, err)
					}
				case err != nil:
					errs <- fmt.Errorf("token %d: %w", i, err)
				case tok.MachineID != ms[i].ID || string(tok.Hash) != string(hash) || tok.TenantID != "t":
					errs <- fmt.Errorf("token %d answered with %s/%s", i, tok.MachineID, tok.Hash)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// Revoked through a, refused through b at once (no cache).
	if _, err := a.RevokeTokens(ctx, "m007", now); err != nil {
		t.Fatal(err)
	}
	if tok, err := b.GetToken(ctx, []byte("hash-007")); err != nil || tok.RevokedAt.IsZero() {
		t.Fatalf("revoked token read as %+v, %v", tok, err)
	}
}

func TestTokenLookupAfterCloseAndCancel(t *testing.T) {
	url := pgtest.Start(t)
	s := open(t, url)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.GetToken(ctx, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled lookup: %v", err)
	}
	s.Close()
	if _, err := s.GetToken(t.Context(), []byte("x")); err == nil {
		t.Fatal("lookup after Close succeeded")
	}
}
