package gate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/updater/catalog"
	"github.com/slipwayhq/slipway/updater/channel"
	"github.com/slipwayhq/slipway/updater/endpoint"
	"github.com/slipwayhq/slipway/updater/gate"
	"github.com/slipwayhq/slipway/updater/internal/memstore"
	"github.com/slipwayhq/slipway/updater/publish"
	"github.com/slipwayhq/slipway/updater/repo"
	"github.com/slipwayhq/slipway/updater/rollout"
	"github.com/slipwayhq/slipway/updater/updatertest"
)

// How a simulated machine fares on a version.
const (
	good   = "good"   // runs and heartbeats
	crash  = "crash"  // fails its trial run: reports it failed, stays on its version
	silent = "silent" // installs and keeps polling for updates, but never heartbeats again
)

// machine is one simulated agent.
type machine struct {
	id, current string
	failed      string    // version reported failed
	lastSeen    time.Time // last heartbeat
	offered     map[string]float64
}

// fleet is a few hundred simulated machines against the real update
// endpoint, with a controllable clock.
type fleet struct {
	t        *testing.T
	st       *memstore.Store
	pub      *updatertest.Publisher
	keys     *repo.Keys
	file     *channel.File
	h        *endpoint.Handler
	srv      *httptest.Server
	ctrl     *gate.Controller
	now      time.Time
	behave   map[string]string // version -> good/crash/silent
	mu       sync.Mutex
	machines []*machine
	events   []string
}

const offlineAfter = 10 * time.Minute

func newFleet(t *testing.T, n int) *fleet {
	t.Helper()
	f := &fleet{t: t, st: memstore.New(), file: &channel.File{}, now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		behave: map[string]string{"1.0.0": good}}
	f.pub = updatertest.New(t, f.st, "", 1)
	var err error
	if f.keys, err = repo.EnsureKeys(filepath.Join(t.TempDir(), "keys"), 1); err != nil {
		t.Fatal(err)
	}
	f.pub.Publish(t, "agent", "1.0.0", updatertest.Agent("1.0.0")...)
	if err := f.file.Promote("agent", "stable", "1.0.0", 100); err != nil {
		t.Fatal(err)
	}
	f.apply()
	f.ctrl = gate.New(&gate.MemStore{}, f, gate.Options{OnEvent: func(_ context.Context, k gate.Key, st gate.State, ev gate.Event) {
		f.events = append(f.events, string(ev)+" "+st.String())
	}})
	if f.h, err = endpoint.New(t.Context(), f.st, endpoint.Options{Rollouts: f.ctrl}); err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	f.h.Routes(r)
	f.srv = httptest.NewServer(r)
	t.Cleanup(f.srv.Close)
	for i := range n {
		f.machines = append(f.machines, &machine{id: fmt.Sprintf("m-%04d", i), current: "1.0.0", lastSeen: f.now, offered: map[string]float64{}})
	}
	return f
}

func (f *fleet) apply() {
	f.t.Helper()
	cfg := publish.Config{Store: f.st, Verifier: catalog.Minisign{Key: f.pub.PK}}
	if _, err := publish.Apply(context.Background(), cfg, f.file, f.keys, f.now); err != nil {
		f.t.Fatal(err)
	}
	if f.h != nil {
		if err := f.h.Reload(context.Background()); err != nil {
			f.t.Fatal(err)
		}
	}
}

// release publishes version with a behaviour and promotes it with plan.
func (f *fleet) release(version, behaviour string, plan gate.Plan) {
	f.t.Helper()
	f.pub.Publish(f.t, "agent", version, updatertest.Agent(version)...)
	f.behave[version] = behaviour
	if err := f.file.Promote("agent", "stable", version, 100); err != nil {
		f.t.Fatal(err)
	}
	c, _ := f.file.Channel("agent", "stable")
	c.Plan = &plan
	f.apply()
}

// Sample implements gate.Source from the simulated heartbeats.
func (f *fleet) Sample(_ context.Context, _, version string, now time.Time) (gate.Sample, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s gate.Sample
	for _, m := range f.machines {
		switch {
		case m.current == version:
			s.Upgraded++
			if now.Sub(m.lastSeen) > offlineAfter {
				s.Offline++
			}
		case m.failed == version:
			s.Failed++
		}
	}
	return s, nil
}

// round: every machine heartbeats (unless silent) and checks for an
// update once; then the controller evaluates; then 5 minutes pass.
func (f *fleet) round() {
	f.t.Helper()
	c, _ := f.file.Channel("agent", "stable")
	for _, m := range f.machines {
		if f.behave[m.current] != silent {
			m.lastSeen = f.now
		}
		v := f.check(m)
		if v == "" {
			continue
		}
		f.mu.Lock()
		m.offered[v] = f.limit(c, v)
		switch f.behave[v] {
		case crash:
			m.failed = v
		default:
			m.current = v
		}
		f.mu.Unlock()
	}
	var rs []gate.Rollout
	if c.Plan != nil {
		rs = append(rs, gate.Rollout{Key: gate.Key{Product: "agent", Channel: "stable"}, Version: c.Version, Plan: *c.Plan})
	}
	if err := f.ctrl.Tick(context.Background(), rs, f.now); err != nil {
		f.t.Fatal(err)
	}
	f.now = f.now.Add(5 * time.Minute)
}

func (f *fleet) limit(c *channel.Channel, v string) float64 {
	if c.Plan == nil || v != c.Version {
		return 100
	}
	return f.ctrl.Limit(gate.Key{Product: "agent", Channel: "stable"}, v, *c.Plan)
}

// check asks the real endpoint; "" when nothing is offered or the machine
// already failed the offered version (it never retries it).
func (f *fleet) check(m *machine) string {
	resp, err := http.Get(f.srv.URL + "/v1/updates/agent/stable?os=linux&arch=amd64&machine=" + m.id + "&current=" + m.current)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent {
		return ""
	}
	var up endpoint.Update
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&up) != nil {
		f.t.Fatalf("check %s: HTTP %d", m.id, resp.StatusCode)
	}
	if up.Version == m.failed {
		return ""
	}
	return up.Version
}

func (f *fleet) count(version string) (n int) {
	for _, m := range f.machines {
		if m.current == version {
			n++
		}
	}
	return n
}

var plan = gate.Plan{Steps: []float64{5, 25, 100}, Bake: gate.Duration(30 * time.Minute),
	Gates: gate.Gates{MaxFailedRate: 0.05, MaxOfflineRate: 0.10, MinSample: 5}}

// TestGoodVersionWalksToFull: every gate holds, so the rollout advances a
// step per bake time on its own until every machine runs the version.
func TestGoodVersionWalksToFull(t *testing.T) {
	f := newFleet(t, 300)
	f.release("1.1.0", good, plan)
	for i := 0; i < 40 && f.count("1.1.0") < len(f.machines); i++ {
		f.round()
	}
	if n := f.count("1.1.0"); n != len(f.machines) {
		t.Fatalf("%d of %d machines on 1.1.0; events %q", n, len(f.machines), f.events)
	}
	st, _ := f.ctrl.State(gate.Key{Product: "agent", Channel: "stable"})
	if st.Halted || st.Step != 2 || len(f.events) != 3 {
		t.Fatalf("state %v, events %q", st, f.events)
	}
	f.checkOffersInsideSteps(t, "1.1.0")
}

// TestBadVersionHaltsAtFirstStep: a crashing version and one whose
// machines go silent halt at the first step, nobody outside the step is
// ever offered them, and after `slipway rollback` every machine that took
// one is back on the last good version.
func TestBadVersionHaltsAtFirstStep(t *testing.T) {
	for _, tt := range []struct{ behaviour, gate string }{{crash, gate.GateFailed}, {silent, gate.GateOffline}} {
		t.Run(tt.behaviour, func(t *testing.T) {
			f := newFleet(t, 300)
			f.release("1.1.0", tt.behaviour, plan)
			for range 12 { // an hour: two bake times
				f.round()
			}
			st, _ := f.ctrl.State(gate.Key{Product: "agent", Channel: "stable"})
			if !st.Halted || st.Gate != tt.gate || st.Step != 0 {
				t.Fatalf("state %v, events %q", st, f.events)
			}
			t.Log(st.String())
			f.checkOffersInsideSteps(t, "1.1.0")
			exposed := 0
			for _, m := range f.machines {
				if _, ok := m.offered["1.1.0"]; ok {
					exposed++
				}
			}
			if exposed == 0 || exposed > len(f.machines)*6/100 {
				t.Fatalf("%d of %d machines exposed", exposed, len(f.machines))
			}
			if _, err := f.file.Rollback("agent", "stable"); err != nil {
				t.Fatal(err)
			}
			f.apply()
			for range 2 {
				f.round()
			}
			if n := f.count("1.0.0"); n != len(f.machines) {
				t.Fatalf("%d of %d machines back on 1.0.0", n, len(f.machines))
			}
		})
	}
}

// checkOffersInsideSteps fails if a machine was offered version while its
// bucket was outside the step in force.
func (f *fleet) checkOffersInsideSteps(t *testing.T, version string) {
	t.Helper()
	for _, m := range f.machines {
		if pct, ok := m.offered[version]; ok && !rollout.In(m.id, "agent", version, pct) {
			t.Fatalf("%s offered %s outside the %v %% step", m.id, version, pct)
		}
	}
}
