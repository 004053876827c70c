// Package gatetest simulates a fleet of update clients in one process for
// rollout tests and benchmarks: each machine checks the real update
// endpoint, "installs" what it is offered according to how that version
// behaves, and heartbeats (or not); the gate controller evaluates between
// rounds on a controllable clock.
package gatetest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/updater/gate"
	"github.com/slipwayhq/slipway/updater/rollout"
)

// How a simulated machine fares on a version.
const (
	Good   = "good"   // runs and heartbeats
	Crash  = "crash"  // fails its trial run: reports it failed, stays on its version
	Silent = "silent" // heartbeats once when installed (its trial run passes), then never again; keeps polling for updates
)

// Machine is one simulated agent.
type Machine struct {
	ID, Current string
	Failed      string             // version reported failed
	LastSeen    time.Time          // last heartbeat
	Offered     map[string]float64 // version -> the step (%) in force when offered
}

// Fleet is the simulation. Set the fields, then call Round.
type Fleet struct {
	// URL is the update server (its /v1/updates/{Product}/{Channel}).
	URL, Product, Channel string
	// Client does the checks. Default: http.DefaultClient.
	Client *http.Client
	// Now is the simulated time; Round advances it by Step.
	Now  time.Time
	Step time.Duration
	// Behave maps a version to Good, Crash or Silent (default Good).
	Behave map[string]string
	// Heartbeat reports a machine's state to the server, when the test
	// samples health from the server; nil keeps it in memory only.
	Heartbeat func(ctx context.Context, m *Machine, now time.Time) error
	// Flush, when set, runs after the round's heartbeats, before the
	// controller evaluates (to write batched heartbeats).
	Flush func(ctx context.Context) error
	// Ctrl evaluates Rollouts() after each round.
	Ctrl     *gate.Controller
	Rollouts func() []gate.Rollout
	// OfflineAfter for Sample: an upgraded machine not seen for longer is
	// silent. Default: 10 minutes.
	OfflineAfter time.Duration
	// StaleAfter for Sample's baseline: the other machines seen within it
	// are the recently active ones. Default: 3 × OfflineAfter.
	StaleAfter time.Duration

	mu       sync.Mutex
	Machines []*Machine
}

// AddMachines adds n machines running version, seen now.
func (f *Fleet) AddMachines(n int, version string) {
	for i := range n {
		f.Machines = append(f.Machines, &Machine{ID: fmt.Sprintf("m-%05d", len(f.Machines)+i), Current: version,
			LastSeen: f.Now, Offered: map[string]float64{}})
	}
}

// Sample implements gate.Source from the simulated state.
func (f *Fleet) Sample(_ context.Context, _, version string, now time.Time) (gate.Sample, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	off := f.OfflineAfter
	if off == 0 {
		off = 10 * time.Minute
	}
	stale := f.StaleAfter
	if stale == 0 {
		stale = 3 * off
	}
	s := gate.Sample{Fleet: len(f.Machines)}
	var active, late int
	for _, m := range f.Machines {
		switch {
		case m.Current == version:
			s.Upgraded++
			if now.Sub(m.LastSeen) > off {
				s.Offline++
			}
		case m.Failed == version:
			s.Failed++
		case now.Sub(m.LastSeen) <= stale:
			active++
			if now.Sub(m.LastSeen) > off {
				late++
			}
		}
	}
	if active > 0 {
		s.Baseline = float64(late) / float64(active)
	}
	return s, nil
}

// Round: every machine heartbeats (unless its version is Silent) and checks
// for an update once; then the controller evaluates; then Step passes.
func (f *Fleet) Round(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	limits := map[string]float64{}
	for _, r := range f.Rollouts() {
		if r.Product == f.Product && r.Channel == f.Channel {
			limits[r.Version] = f.Ctrl.Limit(r.Key, r.Version, r.Plan)
		}
	}
	for _, m := range f.Machines {
		if f.Behave[m.Current] != Silent {
			m.LastSeen = f.Now
			if f.Heartbeat != nil {
				if err := f.Heartbeat(ctx, m, f.Now); err != nil {
					t.Fatal(err)
				}
			}
		}
		v := f.check(t, m)
		if v == "" {
			continue
		}
		f.mu.Lock()
		pct, ok := limits[v]
		if !ok {
			pct = 100
		}
		m.Offered[v] = pct
		if f.Behave[v] == Crash {
			m.Failed = v
		} else {
			m.Current, m.LastSeen = v, f.Now
		}
		f.mu.Unlock()
		if f.Heartbeat != nil {
			if err := f.Heartbeat(ctx, m, f.Now); err != nil {
				t.Fatal(err)
			}
		}
	}
	if f.Flush != nil {
		if err := f.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Ctrl.Tick(ctx, f.Rollouts(), f.Now); err != nil {
		t.Fatal(err)
	}
	f.Now = f.Now.Add(f.Step)
}

// check asks the endpoint; "" when nothing is offered or the machine
// already failed the offered version (it never retries it).
func (f *Fleet) check(t testing.TB, m *Machine) string {
	c := f.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Get(f.URL + "/v1/updates/" + f.Product + "/" + f.Channel + "?os=linux&arch=amd64&machine=" + m.ID + "&current=" + m.Current)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent {
		return ""
	}
	var up struct{ Version string }
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&up) != nil {
		t.Fatalf("check %s: HTTP %d", m.ID, resp.StatusCode)
	}
	if up.Version == m.Failed {
		return ""
	}
	return up.Version
}

// Count is how many machines run version.
func (f *Fleet) Count(version string) (n int) {
	for _, m := range f.Machines {
		if m.Current == version {
			n++
		}
	}
	return n
}

// Exposed is how many machines were ever offered version.
func (f *Fleet) Exposed(version string) (n int) {
	for _, m := range f.Machines {
		if _, ok := m.Offered[version]; ok {
			n++
		}
	}
	return n
}

// CheckOffersInsideSteps fails if a machine was offered version while its
// rollout bucket was outside the step in force.
func (f *Fleet) CheckOffersInsideSteps(t testing.TB, version string) {
	t.Helper()
	for _, m := range f.Machines {
		if pct, ok := m.Offered[version]; ok && !rollout.In(m.ID, f.Product, version, pct) {
			t.Fatalf("%s offered %s outside the %v %% step", m.ID, version, pct)
		}
	}
}
