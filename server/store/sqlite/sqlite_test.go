package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/sqlite"
	"github.com/slipwayhq/slipway/server/store/storetest"
)

func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "slipway.db"))
	})
}

func TestReopenKeepsDataAndMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slipway.db")
	s := open(t, path)
	if err := s.CreateTenant(t.Context(), store.Tenant{ID: "default", Name: "Default"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("database mode %v, %v; want 0600", st.Mode(), err)
	}
	s2 := open(t, path)
	if _, err := s2.GetTenant(t.Context(), "default"); err != nil {
		t.Fatalf("after reopen: %v", err)
	}
}

func TestBadSynchronous(t *testing.T) {
	if _, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "x.db"), sqlite.Options{Synchronous: "MAYBE"}); err == nil {
		t.Fatal("accepted bad synchronous value")
	}
}

func TestBulkRegister(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "slipway.db"))
	ctx := t.Context()
	if err := s.CreateTenant(ctx, store.Tenant{ID: "t"}); err != nil {
		t.Fatal(err)
	}
	ms := []store.Machine{{ID: "a", TenantID: "t", Source: "agent"}, {ID: "b", TenantID: "t", Source: "agent"}}
	toks := []store.Token{{Hash: []byte("ha")}, {Hash: []byte("hb")}}
	if err := s.BulkRegister(ctx, ms, toks[:1]); err == nil {
		t.Fatal("accepted mismatched lengths")
	}
	if err := s.BulkRegister(ctx, ms, toks); err != nil {
		t.Fatal(err)
	}
	tok, err := s.GetToken(ctx, []byte("hb"))
	if err != nil || tok.MachineID != "b" || tok.TenantID != "t" {
		t.Fatalf("token %+v %v", tok, err)
	}
	if err := s.BulkRegister(ctx, ms[:1], toks[:1]); err == nil {
		t.Fatal("duplicate machine accepted")
	}
}
