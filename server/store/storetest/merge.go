package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// fleetMerge is a MergeFunc like the server's Fleet sync: it records the
// Fleet data and, on a new machine, the identity it was matched on.
func fleetMerge(id store.Identity, data string, at time.Time) store.MergeFunc {
	return func(m *store.Machine, match store.Match) error {
		m.Fleet, m.UpdatedAt = []byte(data), at
		if match.ID == "" {
			m.Source, m.CreatedAt, m.Hostname = "fleet", at, id.Hostname
			m.SerialNumbers, m.HardwareUUID, m.MACAddresses = id.Serials, id.HardwareUUID, id.MACs
		}
		for _, mac := range id.MACs {
			if len(match.Others) == 0 && !slices.Contains(m.MACAddresses, mac) {
				m.MACAddresses = append(m.MACAddresses, mac)
			}
		}
		return nil
	}
}

// agentMachine is an agent registration with the given identifiers.
func agentMachine(tenantID, id, fp, serial, hwUUID, mac string, at time.Time) store.Machine {
	m := store.Machine{ID: id, TenantID: tenantID, Fingerprint: fp, Hostname: "agent-" + id,
		OS: store.OS{Name: "macos", Version: "14.5"}, HardwareUUID: hwUUID, Source: "agent", CreatedAt: at, UpdatedAt: at,
		Inventory: []byte(`{"agent":true}`)}
	if serial != "" {
		m.SerialNumbers = []string{serial}
	}
	if mac != "" {
		m.MACAddresses = []string{mac}
	}
	return m
}

func countMachines(t *testing.T, s store.Store, tenantID string) int {
	t.Helper()
	ms, err := s.ListMachines(t.Context(), store.MachineFilter{TenantID: tenantID})
	must(t, err)
	return len(ms)
}

// testMergeFleetFirst: a machine Fleet reported first is the machine its
// agent registers as (adopted on serial, UUID or MAC), keeping the Fleet
// data; Fleet re-sends land on the same row.
func testMergeFleetFirst(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenant(t, s, "a")
	tenant(t, s, "b")
	for i, tc := range []struct {
		name          string
		fleet         store.Identity
		serial, uuid  string
		mac, wantKind string
	}{
		{"serial", store.Identity{Serials: []string{"X9QCQ2QW3M"}, HardwareUUID: "u-1", Hostname: "mbp"}, "X9QCQ2QW3M", "", "", "serial"},
		{"uuid", store.Identity{HardwareUUID: "8b9c1a7e-0000-0000-0000-000000000002", Hostname: "win"}, "", "8b9c1a7e-0000-0000-0000-000000000002", "", "uuid"},
		{"mac", store.Identity{MACs: []string{"a4:83:e7:00:00:03"}, Hostname: "lin"}, "", "", "a4:83:e7:00:00:03", "mac"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at := t0.Add(time.Duration(i) * time.Hour)
			fm, match, err := s.MergeMachine(ctx, "a", "fleet-"+tc.name, tc.fleet, fleetMerge(tc.fleet, `{"fleetId":1}`, at))
			must(t, err)
			if match.ID != "" || fm.ID != "fleet-"+tc.name || fm.Source != "fleet" {
				t.Fatalf("first Fleet sync: %+v %+v", fm, match)
			}
			// Fleet re-sends the host: same row.
			again, match, err := s.MergeMachine(ctx, "a", "fleet-dup-"+tc.name, tc.fleet, fleetMerge(tc.fleet, `{"fleetId":2}`, at.Add(time.Minute)))
			must(t, err)
			if again.ID != fm.ID || string(match.By) != tc.wantKind || len(match.Others) != 0 {
				t.Fatalf("re-send: %s %+v", again.ID, match)
			}
			// The same hardware in another tenant is another machine.
			other, match, err := s.MergeMachine(ctx, "b", "b-"+tc.name, tc.fleet, fleetMerge(tc.fleet, `{}`, at))
			must(t, err)
			if match.ID != "" || other.ID != "b-"+tc.name {
				t.Fatalf("other tenant matched: %+v", match)
			}
			// The agent registers: it continues the Fleet row.
			am := agentMachine("a", "agent-"+tc.name, "fp-"+tc.name, tc.serial, tc.uuid, tc.mac, at.Add(2*time.Minute))
			got, created, err := s.RegisterMachine(ctx, am, token("tok-"+tc.name, am.ID, "a", at.Add(2*time.Minute)))
			must(t, err)
			if created || got.ID != fm.ID {
				t.Fatalf("agent registration: id %s created %v, want the Fleet row %s", got.ID, created, fm.ID)
			}
			stored, err := s.GetMachine(ctx, fm.ID)
			must(t, err)
			if stored.Source != "agent" || stored.Fingerprint != "fp-"+tc.name || stored.Hostname != am.Hostname ||
				string(stored.Fleet) != `{"fleetId":2}` || string(stored.Inventory) != `{"agent":true}` || !stored.CreatedAt.Equal(at) {
				t.Fatalf("merged row = %+v", stored)
			}
			if tok, err := s.GetToken(ctx, hash("tok-"+tc.name)); err != nil || tok.MachineID != fm.ID {
				t.Fatalf("token of the adopted row: %+v %v", tok, err)
			}
			// The agent re-registers (same fingerprint) and Fleet syncs again.
			again2, created, err := s.RegisterMachine(ctx, am, token("tok2-"+tc.name, am.ID, "a", at.Add(3*time.Minute)))
			must(t, err)
			if created || again2.ID != fm.ID {
				t.Fatalf("re-registration: %s %v", again2.ID, created)
			}
		})
	}
	if n := countMachines(t, s, "a"); n != 3 {
		t.Fatalf("tenant a has %d machines, want 3 (one per physical machine)", n)
	}
}

// testMergeAgentFirst: Fleet data for a registered machine lands on it;
// the agent's description wins; a Fleet host that matches two machines goes
// to the match of the strongest identifier and reports the other.
func testMergeAgentFirst(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenant(t, s, "a")
	bySerial := register(t, s, agentMachine("a", "m-serial", "fp1", "C02ZX1", "", "00:15:5d:d0:c0:00", t0), "t1")
	byUUID := register(t, s, agentMachine("a", "m-uuid", "fp2", "", "1111aaaa-0000-0000-0000-000000000001", "", t0.Add(time.Second)), "t2")
	byMAC := register(t, s, agentMachine("a", "m-mac", "fp3", "", "", "00:15:5d:01:02:03", t0.Add(2*time.Second)), "t3")
	for _, tc := range []struct {
		id         store.Identity
		want       string
		wantBy     store.IdentifierKind
		wantOthers []string
	}{
		{store.Identity{Serials: []string{"C02ZX1"}, Hostname: "x"}, bySerial.ID, store.BySerial, nil},
		{store.Identity{HardwareUUID: "1111AAAA-0000-0000-0000-000000000001"}, byUUID.ID, store.ByUUID, nil},
		{store.Identity{MACs: []string{"00:15:5d:01:02:03"}}, byMAC.ID, store.ByMAC, nil},
		// Serial says one machine, UUID another: the serial wins.
		{store.Identity{Serials: []string{"C02ZX1"}, HardwareUUID: "1111aaaa-0000-0000-0000-000000000001"}, bySerial.ID, store.BySerial, []string{byUUID.ID}},
		// UUID and MAC disagree, no serial: the UUID wins.
		{store.Identity{HardwareUUID: "1111aaaa-0000-0000-0000-000000000001", MACs: []string{"00:15:5d:01:02:03"}}, byUUID.ID, store.ByUUID, []string{byMAC.ID}},
	} {
		got, match, err := s.MergeMachine(ctx, "a", "new", tc.id, fleetMerge(tc.id, `{"fleetId":7}`, t0.Add(time.Hour)))
		if match.ID == "" {
			t.Fatalf("merge %+v created a machine", tc.id)
		}
		must(t, err)
		if got.ID != tc.want || match.By != tc.wantBy || fmt.Sprint(match.Others) != fmt.Sprint(tc.wantOthers) {
			t.Errorf("merge %+v: got %s %+v, want %s by %s others %v", tc.id, got.ID, match, tc.want, tc.wantBy, tc.wantOthers)
		}
		if got.Source != "agent" || got.Fingerprint == "" {
			t.Errorf("merge %+v changed the agent row: %+v", tc.id, got)
		}
	}
	if n := countMachines(t, s, "a"); n != 3 {
		t.Fatalf("tenant a has %d machines, want 3", n)
	}
	// The conflicting machines were left as they were (no silent loss).
	for _, m := range []store.Machine{bySerial, byUUID, byMAC} {
		got, err := s.GetMachine(ctx, m.ID)
		must(t, err)
		if got.Fingerprint != m.Fingerprint || got.Hostname != m.Hostname || len(got.Fleet) == 0 {
			t.Errorf("machine %s after merges: %+v", m.ID, got)
		}
	}
	// Another laptop on the same docking station (same MAC, other serial)
	// is another machine.
	docked := store.Identity{Serials: []string{"LAPTOP2"}, MACs: []string{"00:15:5d:d0:c0:00"}}
	if _, match, err := s.MergeMachine(ctx, "a", "docked", docked, fleetMerge(docked, `{}`, t0.Add(2*time.Hour))); err != nil || match.ID != "" {
		t.Errorf("a laptop sharing a dock's MAC matched %+v, %v", match, err)
	}
	// Hostname: only a last resort, and never onto a machine whose hardware
	// identifiers say otherwise.
	_, match, err := s.MergeMachine(ctx, "a", "h1", store.Identity{Serials: []string{"OTHER"}, Hostname: bySerial.Hostname},
		fleetMerge(store.Identity{Serials: []string{"OTHER"}, Hostname: bySerial.Hostname}, `{}`, t0.Add(2*time.Hour)))
	must(t, err)
	if match.ID != "" {
		t.Errorf("a host with another serial matched by hostname: %+v", match)
	}
	_, match, err = s.MergeMachine(ctx, "a", "h2", store.Identity{Hostname: bySerial.Hostname}, fleetMerge(store.Identity{}, `{}`, t0))
	must(t, err)
	if match.By != store.ByHostname || match.ID != bySerial.ID {
		t.Errorf("a host known only by hostname: %+v", match)
	}
}

// testMergeRace: a Fleet sync and the agent's registration of the same new
// hardware at the same time still make one machine.
func testMergeRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenant(t, s, "a")
	for i := range 8 {
		serial := fmt.Sprintf("RACE%d", i)
		id := store.Identity{Serials: []string{serial}, Hostname: "race"}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		wg.Go(func() {
			_, _, errs[0] = s.MergeMachine(ctx, "a", "fleet-"+serial, id, fleetMerge(id, `{}`, t0))
		})
		wg.Go(func() {
			m := agentMachine("a", "agent-"+serial, "fp-"+serial, serial, "", "", t0)
			_, _, errs[1] = s.RegisterMachine(ctx, m, token("tok-"+serial, m.ID, "a", t0))
		})
		wg.Wait()
		must(t, errs[0])
		must(t, errs[1])
	}
	if n := countMachines(t, s, "a"); n != 8 {
		t.Fatalf("%d machines after 8 simultaneous Fleet syncs and registrations, want 8", n)
	}
}
