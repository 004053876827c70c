package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// SoftwareSeed is what the first agent lists of machines 0..N-1 of
// BenchSoftware's fleet write, computed in Go so that a backend can load a
// big fleet with set-based SQL instead of 100,000 uploads (BenchSoftware's
// bulk mode). It is exactly what the upload path writes when the reports
// arrive one at a time in machine order: software rows numbered from 1 in
// order of first appearance, each report's new rows in key order (as
// SoftwareTx.SoftwareIDs inserts them); machine keys 1..N in
// software_machines; one machine_software link per deduplicated entry
// (origin agent, not shadowed, no path, no install time); the list's hash
// and entry count; and no history (a first list is a baseline).
// CheckSoftwareSeed compares the two on a real store.
type SoftwareSeed struct {
	N       int
	At      time.Time
	Titles  []store.Software // software row i+1
	links   []int32          // software IDs of every machine, flattened
	offsets []int            // machine i's links are links[offsets[i]:offsets[i+1]]
}

// NewSoftwareSeed computes the first lists of machines 0..n-1 of per
// packages each, stored at at.
func NewSoftwareSeed(n, per int, at time.Time) *SoftwareSeed {
	s := &SoftwareSeed{N: n, At: at, offsets: make([]int, 1, n+1)}
	ids := map[string]int32{}
	for i := range n {
		items := store.DedupeSoftware(fleetSoftware(i, per, 0))
		var fresh []store.Software
		for _, it := range items {
			if _, ok := ids[it.Key()]; !ok {
				fresh = append(fresh, it)
			}
		}
		slices.SortFunc(fresh, func(a, b store.Software) int { return strings.Compare(a.Key(), b.Key()) })
		for _, it := range fresh {
			s.Titles = append(s.Titles, it)
			ids[it.Key()] = int32(len(s.Titles))
		}
		for _, it := range items { // deduplicated: no ID twice
			s.links = append(s.links, ids[it.Key()])
		}
		s.offsets = append(s.offsets, len(s.links))
	}
	return s
}

// MachineID is machine i's ID (as BenchSoftware registers it).
func MachineID(i int) string { return fmt.Sprintf("m%07d", i) }

// Links returns machine i's software IDs.
func (s *SoftwareSeed) Links(i int) []int32 { return s.links[s.offsets[i]:s.offsets[i+1]] }

// Hash is the hash BenchSoftware reports with machine i's first list.
func (s *SoftwareSeed) Hash(i int) string { return listHash(i, 0) }

func listHash(i, bump int) string { return fmt.Sprintf("h%d-%d", i, bump) }

// SoftwareLoader writes a SoftwareSeed into a freshly migrated store whose
// machines are registered: software rows with their IDs, machine keys,
// links and list hashes, leaving the ID sequences after the largest ID.
type SoftwareLoader func(ctx context.Context, seed *SoftwareSeed) error

// SeedSoftwareBench prepares BenchSoftware's bulk mode on an empty store:
// the tenant, all n machines registered, and the first lists of machines
// 0..seeded-1 written by load. BenchSoftware then runs with
// BenchHooks.Seeded = seeded.
func SeedSoftwareBench(ctx context.Context, st store.Store, n, per, seeded int, at time.Time, load SoftwareLoader) error {
	if err := registerBenchFleet(ctx, st, n, at); err != nil {
		return err
	}
	return load(ctx, NewSoftwareSeed(seeded, per, at))
}

// registerBenchFleet creates tenant "t" and its machines 0..n-1.
func registerBenchFleet(ctx context.Context, st store.Store, n int, now time.Time) error {
	if err := st.CreateTenant(ctx, store.Tenant{ID: "t", Name: "t", CreatedAt: now}); err != nil {
		return err
	}
	bulk, ok := st.(Bulk)
	if !ok {
		return fmt.Errorf("store cannot bulk-register")
	}
	const chunk = 5000
	for start := 0; start < n; start += chunk {
		var ms []store.Machine
		var toks []store.Token
		for i := start; i < min(n, start+chunk); i++ {
			ms = append(ms, store.Machine{ID: MachineID(i), TenantID: "t", Fingerprint: fmt.Sprint(i),
				Hostname: fmt.Sprintf("host-%d", i), Source: "agent", CreatedAt: now, UpdatedAt: now})
			toks = append(toks, store.Token{Hash: hash(fmt.Sprint("tok", i)), CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
		}
		if err := bulk.BulkRegister(ctx, ms, toks); err != nil {
			return err
		}
	}
	return nil
}

// benchReport is BenchSoftware's report of machine i (bump > 0: churned).
func benchReport(i, per, bump int, at time.Time) store.SoftwareReport {
	return store.SoftwareReport{MachineID: MachineID(i), Origin: store.OriginAgent,
		Hash: listHash(i, bump), Items: fleetSoftware(i, per, bump), At: at}
}

// CheckSoftwareSeed checks that a bulk-seeded store holds exactly what the
// upload path writes: bulk gets the first seeded of n machines from load
// and the rest by ReplaceSoftware, the real database gets all of them by
// ReplaceSoftware (one at a time, in machine order), then both get the same
// churn; dump (the backend's SQL dump of the software tables, IDs
// included) must be equal. bulk is empty and migrated; real opens a store
// on the other (empty) database, called twice: the second store, opened
// where the seeding ends, starts with an empty software ID cache like bulk
// after the seeding (a PostgreSQL insert of already stored rows uses up
// sequence numbers, so the IDs depend on the cache).
func CheckSoftwareSeed(t *testing.T, bulk store.Store, real func() store.Store, load SoftwareLoader, dump func(store.Store) string) {
	ctx := t.Context()
	const n, per, seeded = 40, 30, 25
	at := t0
	if err := SeedSoftwareBench(ctx, bulk, n, per, seeded, at, load); err != nil {
		t.Fatal(err)
	}
	uploads := real()
	if err := registerBenchFleet(ctx, uploads, n, at); err != nil {
		t.Fatal(err)
	}
	apply := func(st store.Store, i, bump int) {
		if _, err := st.ReplaceSoftware(ctx, benchReport(i, per, bump, at)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if i == seeded {
			uploads = real() // a restarted server
		}
		apply(uploads, i, 0)
		if i >= seeded {
			apply(bulk, i, 0)
		}
	}
	for _, i := range []int{3, 17, 30} {
		apply(uploads, i, 3)
		apply(bulk, i, 3)
	}
	got, want := dump(bulk), dump(uploads)
	if got != want {
		t.Fatalf("bulk-seeded store differs from the upload path's:\n--- bulk\n%s\n--- uploads\n%s", got, want)
	}
	if !strings.Contains(want, "installed") || strings.Count(want, "\n") < n*per {
		t.Fatalf("dump too small to compare (no history or links?):\n%s", want)
	}
}

// SoftwareDumpSQL reads every software table in a stable order, IDs
// included (the same text on both backends); CheckSoftwareSeed's dump
// runs them.
var SoftwareDumpSQL = []string{
	"SELECT id, name, name_key, version, source, bundle_id, vendor, vulnerabilities FROM software ORDER BY id",
	"SELECT id, machine_id, tenant_id FROM software_machines ORDER BY id",
	"SELECT machine_key, software_id, origin, shadowed, installed_at, path FROM machine_software ORDER BY machine_key, software_id, origin",
	"SELECT machine_id, origin, hash, count, updated_at FROM machine_software_lists ORDER BY machine_id, origin",
	"SELECT id, machine_id, at, software_id, change FROM software_history ORDER BY id",
}
