package sqlite_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/sqlite"
)

// BenchmarkFleetSync measures matching one Fleet host onto 10,000 agent
// machines (half of the hosts known by serial, a quarter by hardware UUID,
// a quarter new each time), one op = one host:
//
//   - merge: store.MergeMachine, the issue 13 rule (serial, UUID, MAC,
//     conflicts, one transaction);
//   - find-update: what the Fleet sync did before issue 13 (FindMachine by
//     serial, then UUID, then hostname, outside a transaction, then
//     UpdateMachine or CreateMachine).
//
// Results: docs/benchmarks.md, "Issue 13".
func BenchmarkFleetSync(b *testing.B) {
	const n = 10000
	path := filepath.Join(b.TempDir(), "bench.db")
	st, err := sqlite.Open(b.Context(), path, sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	if err := st.CreateTenant(b.Context(), store.Tenant{ID: "t", CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	ms := make([]store.Machine, n)
	toks := make([]store.Token, n)
	for i := range ms {
		ms[i] = store.Machine{ID: fmt.Sprintf("m%07d", i), TenantID: "t", Fingerprint: fmt.Sprint(i), Hostname: fmt.Sprint("h", i),
			Source: "agent", SerialNumbers: []string{fmt.Sprint("S", i)}, HardwareUUID: fmt.Sprintf("u-%d", i),
			MACAddresses: []string{fmt.Sprintf("00:15:5d:%02x:%02x:%02x", i>>16&255, i>>8&255, i&255)}, CreatedAt: now, UpdatedAt: now}
		toks[i] = store.Token{Hash: []byte(fmt.Sprintf("%032d", i)), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	if err := st.BulkRegister(b.Context(), ms, toks); err != nil {
		b.Fatal(err)
	}
	fleet := []byte(`{"fleetId":1,"hostname":"h","syncedAt":"2026-12-04T12:00:00Z"}`)
	host := func(i int) store.Identity {
		k := (i * 7919) % n
		switch i % 4 {
		case 0, 1:
			return store.Identity{Serials: []string{fmt.Sprint("S", k)}, Hostname: fmt.Sprint("h", k)}
		case 2:
			return store.Identity{HardwareUUID: fmt.Sprintf("u-%d", k), Hostname: fmt.Sprint("h", k)}
		}
		return store.Identity{Serials: []string{fmt.Sprintf("NEW%d", i)}, Hostname: fmt.Sprintf("new-%d", i)}
	}
	b.Run("merge", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			id := host(i)
			_, _, err := st.MergeMachine(b.Context(), "t", fmt.Sprintf("merge-%d", i), id, func(m *store.Machine, match store.Match) error {
				m.Fleet, m.UpdatedAt = fleet, now
				if match.ID == "" {
					m.Source, m.Hostname, m.SerialNumbers, m.CreatedAt = "fleet", id.Hostname, id.Serials, now
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("find-update", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if err := findUpdate(b, st, host(i), fmt.Sprintf("old-%d", i), fleet, now); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// findUpdate is the Fleet sync before issue 13.
func findUpdate(b *testing.B, st *sqlite.Store, id store.Identity, newID string, fleet []byte, now time.Time) error {
	for _, try := range []struct {
		kind  store.IdentifierKind
		value string
	}{{store.BySerial, first(id.Serials)}, {store.ByUUID, id.HardwareUUID}, {store.ByHostname, id.Hostname}} {
		if try.value == "" {
			continue
		}
		m, err := st.FindMachine(b.Context(), "t", try.kind, try.value)
		if err == nil {
			m.Fleet, m.UpdatedAt = fleet, now
			return st.UpdateMachine(b.Context(), m)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return st.CreateMachine(b.Context(), store.Machine{ID: newID, TenantID: "t", Source: "fleet",
		Hostname: id.Hostname, SerialNumbers: id.Serials, Fleet: fleet, CreatedAt: now, UpdatedAt: now})
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
