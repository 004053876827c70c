package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/pgtest"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/postgres"
	"github.com/slipwayhq/slipway/server/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func open(t *testing.T, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, pgtest.Start(t)) })
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	url := pgtest.Start(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := postgres.Open(t.Context(), url, postgres.Options{})
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent open: %v", err)
		}
	}
	applied, err := open(t, url).Migrate(t.Context())
	if err != nil || len(applied) != 0 {
		t.Fatalf("second migrate applied %v, %v", applied, err)
	}
}

func TestConcurrentRegisterSameHardware(t *testing.T) {
	ctx := t.Context()
	s := open(t, pgtest.Start(t))
	if err := s.CreateTenant(ctx, store.Tenant{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Go(func() {
			m := store.Machine{ID: fmt.Sprintf("m%d", i), TenantID: "a", Fingerprint: "fp", Source: "agent"}
			got, _, err := s.RegisterMachine(ctx, m, store.Token{Hash: []byte{byte(i)}, CreatedAt: time.UnixMilli(int64(i + 1))})
			if err != nil {
				t.Errorf("register %d: %v", i, err)
			}
			ids[i] = got.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("same hardware got machines %v", ids)
		}
	}
	ms, err := s.ListMachines(ctx, store.MachineFilter{})
	if err != nil || len(ms) != 1 {
		t.Fatalf("machines: %d, %v", len(ms), err)
	}
}

func TestWithLockSerialises(t *testing.T) {
	url := pgtest.Start(t)
	a, b := open(t, url), open(t, url)
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for i := range 6 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			err := s.WithLock(t.Context(), "test", func(context.Context) error {
				n := inside.Add(1)
				if n > most.Load() {
					most.Store(n)
				}
				time.Sleep(5 * time.Millisecond)
				inside.Add(-1)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Fatalf("%d holders at once", most.Load())
	}
}

func TestBadURL(t *testing.T) {
	_, err := postgres.Open(t.Context(), "postgres://user:s3cret@127.0.0.1:1/x?sslmode=bogus", postgres.Options{})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("bad url: %v", err)
	}
}

func TestBulkRegister(t *testing.T) {
	s := open(t, pgtest.Start(t))
	ctx := t.Context()
	if err := s.CreateTenant(ctx, store.Tenant{ID: "t"}); err != nil {
		t.Fatal(err)
	}
	ms := []store.Machine{{ID: "a", TenantID: "t", Source: "agent", SerialNumbers: []string{"S1", "S1"}}, {ID: "b", TenantID: "t", Source: "agent"}}
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
	if m, err := s.FindMachine(ctx, "t", store.BySerial, "S1"); err != nil || m.ID != "a" {
		t.Fatalf("serial: %v %v", m.ID, err)
	}
	if err := s.BulkRegister(ctx, ms[:1], toks[:1]); err == nil {
		t.Fatal("duplicate machine accepted")
	}
}

func TestStats(t *testing.T) {
	storetest.RunStats(t, func(t *testing.T) store.Store { return open(t, pgtest.Start(t)) })
}

// TestDeleteMachineDuringHeartbeats: the heartbeat history has no foreign
// key (migration 0003), so deleting a machine while batches for it are in
// flight must still leave no history rows behind.
func TestDeleteMachineDuringHeartbeats(t *testing.T) {
	url := pgtest.Start(t)
	s, w := open(t, url), open(t, url)
	ctx := t.Context()
	if err := s.CreateTenant(ctx, store.Tenant{ID: "t"}); err != nil {
		t.Fatal(err)
	}
	for round := range 5 {
		id := fmt.Sprintf("m%d", round)
		if err := s.BulkRegister(ctx, []store.Machine{{ID: id, TenantID: "t", Source: "agent"}},
			[]store.Token{{Hash: []byte(id)}}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var stop atomic.Bool
		for range 4 {
			wg.Go(func() {
				for !stop.Load() {
					hb := store.Heartbeat{MachineID: id, At: time.Now(), Status: "ok"}
					if err := w.RecordHeartbeats(ctx, []store.Heartbeat{hb, hb}); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		time.Sleep(20 * time.Millisecond)
		if err := s.DeleteMachine(ctx, id); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		stop.Store(true)
		wg.Wait()
		if hbs, err := s.ListHeartbeats(ctx, id, 10); err != nil || len(hbs) != 0 {
			t.Fatalf("round %d: %d history rows outlived their machine (%v)", round, len(hbs), err)
		}
	}
}
