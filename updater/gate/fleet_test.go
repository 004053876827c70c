package gate_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/updater/catalog"
	"github.com/slipwayhq/slipway/updater/channel"
	"github.com/slipwayhq/slipway/updater/endpoint"
	"github.com/slipwayhq/slipway/updater/gate"
	"github.com/slipwayhq/slipway/updater/gate/gatetest"
	"github.com/slipwayhq/slipway/updater/internal/memstore"
	"github.com/slipwayhq/slipway/updater/publish"
	"github.com/slipwayhq/slipway/updater/repo"
	"github.com/slipwayhq/slipway/updater/updatertest"
)

// env is the real update endpoint over a TUF repository with agent
// 1.0.0 on stable, and a simulated fleet.
type env struct {
	t     testing.TB
	st    *memstore.Store
	pub   *updatertest.Publisher
	keys  *repo.Keys
	file  *channel.File
	h     *endpoint.Handler
	fleet *gatetest.Fleet
	halts []string
}

func newEnv(t testing.TB, n int) *env {
	t.Helper()
	e := &env{t: t, st: memstore.New(), file: &channel.File{}}
	e.fleet = &gatetest.Fleet{Product: "agent", Channel: "stable", Now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		Step: 5 * time.Minute, Behave: map[string]string{}}
	// One round = one heartbeat interval; silent after 1.5 intervals and
	// recently active within 3, like the server (cmd/slipway fleetHealth).
	e.fleet.OfflineAfter, e.fleet.StaleAfter = e.fleet.Step*3/2, 3*e.fleet.Step
	e.pub = updatertest.New(t, e.st, "", 1)
	var err error
	if e.keys, err = repo.EnsureKeys(filepath.Join(t.TempDir(), "keys"), 1); err != nil {
		t.Fatal(err)
	}
	e.pub.Publish(t, "agent", "1.0.0", updatertest.Agent("1.0.0")...)
	if err := e.file.Promote("agent", "stable", "1.0.0", 100); err != nil {
		t.Fatal(err)
	}
	e.apply()
	e.fleet.Ctrl = gate.New(&gate.MemStore{}, e.fleet, gate.Options{OnEvent: func(_ context.Context, _ gate.Key, st gate.State, ev gate.Event) {
		e.halts = append(e.halts, string(ev)+" "+st.String())
	}})
	if e.h, err = endpoint.New(t.Context(), e.st, endpoint.Options{Rollouts: e.fleet.Ctrl}); err != nil {
		t.Fatal(err)
	}
	e.fleet.Rollouts = e.h.Rollouts
	r := chi.NewRouter()
	e.h.Routes(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	e.fleet.URL = srv.URL
	e.fleet.AddMachines(n, "1.0.0")
	return e
}

func (e *env) apply() {
	e.t.Helper()
	cfg := publish.Config{Store: e.st, Verifier: catalog.Minisign{Key: e.pub.PK}}
	if _, err := publish.Apply(context.Background(), cfg, e.file, e.keys, e.fleet.Now); err != nil {
		e.t.Fatal(err)
	}
	if e.h != nil {
		if err := e.h.Reload(context.Background()); err != nil {
			e.t.Fatal(err)
		}
	}
}

// release publishes version with a behaviour and promotes it with plan.
func (e *env) release(version, behaviour string, plan gate.Plan) {
	e.t.Helper()
	e.pub.Publish(e.t, "agent", version, updatertest.Agent(version)...)
	e.fleet.Behave[version] = behaviour
	if err := e.file.Promote("agent", "stable", version, 100); err != nil {
		e.t.Fatal(err)
	}
	c, _ := e.file.Channel("agent", "stable")
	c.Plan = &plan
	e.apply()
}

var plan = gate.Plan{Steps: []float64{5, 25, 100}, Bake: gate.Duration(30 * time.Minute),
	Gates: gate.Gates{MaxFailedRate: 0.05, MaxOfflineRate: 0.10, MinSample: 5}}

// TestGoodVersionWalksToFull: every gate holds, so the rollout advances a
// step per bake time on its own until every machine runs the version.
func TestGoodVersionWalksToFull(t *testing.T) {
	e := newEnv(t, 300)
	f := e.fleet
	e.release("1.1.0", gatetest.Good, plan)
	for i := 0; i < 40 && f.Count("1.1.0") < len(f.Machines); i++ {
		f.Round(t)
	}
	if n := f.Count("1.1.0"); n != len(f.Machines) {
		t.Fatalf("%d of %d machines on 1.1.0; events %q", n, len(f.Machines), e.halts)
	}
	st, _ := f.Ctrl.State(gate.Key{Product: "agent", Channel: "stable"})
	if st.Halted || st.Step != 2 || len(e.halts) != 3 {
		t.Fatalf("state %v, events %q", st, e.halts)
	}
	f.CheckOffersInsideSteps(t, "1.1.0")
}

// TestBadVersionHaltsAtFirstStep: a crashing version and one whose
// machines go silent halt at the first step, nobody outside the step is
// ever offered them, and after `slipway rollback` every machine that took
// one is back on the last good version.
func TestBadVersionHaltsAtFirstStep(t *testing.T) {
	for _, tt := range []struct{ behaviour, gate string }{{gatetest.Crash, gate.GateFailed}, {gatetest.Silent, gate.GateOffline}} {
		t.Run(tt.behaviour, func(t *testing.T) {
			e := newEnv(t, 300)
			f := e.fleet
			e.release("1.1.0", tt.behaviour, plan)
			for range 12 { // an hour: two bake times
				f.Round(t)
			}
			st, _ := f.Ctrl.State(gate.Key{Product: "agent", Channel: "stable"})
			if !st.Halted || st.Gate != tt.gate || st.Step != 0 {
				t.Fatalf("state %v, events %q", st, e.halts)
			}
			t.Log(st.String())
			f.CheckOffersInsideSteps(t, "1.1.0")
			if n := f.Exposed("1.1.0"); n == 0 || n > len(f.Machines)*6/100 {
				t.Fatalf("%d of %d machines exposed", n, len(f.Machines))
			}
			if _, err := e.file.Rollback("agent", "stable"); err != nil {
				t.Fatal(err)
			}
			e.apply()
			for range 2 {
				f.Round(t)
			}
			if n := f.Count("1.0.0"); n != len(f.Machines) {
				t.Fatalf("%d of %d machines back on 1.0.0", n, len(f.Machines))
			}
		})
	}
}

// TestSilentVersionHaltsWithinTwoIntervals: machines that go silent after
// taking a version trip the offline gate at most two heartbeat intervals
// (rounds) after the gate's minimum sample is reached (the goal;
// counted on the simulated clock, not measured in wall time).
func TestSilentVersionHaltsWithinTwoIntervals(t *testing.T) {
	e := newEnv(t, 600)
	f := e.fleet
	e.release("1.1.0", gatetest.Silent, plan)
	k := gate.Key{Product: "agent", Channel: "stable"}
	sampledRound, round := -1, 0
	for ; round < 20; round++ {
		f.Round(t)
		if st, _ := f.Ctrl.State(k); st.Halted {
			break
		}
		if s, _ := f.Sample(t.Context(), "agent", "1.1.0", f.Now.Add(-f.Step)); sampledRound < 0 && s.Upgraded+s.Failed >= plan.Gates.MinSample {
			sampledRound = round
		}
	}
	st, _ := f.Ctrl.State(k)
	if !st.Halted || st.Gate != gate.GateOffline || sampledRound < 0 {
		t.Fatalf("state %v (minimum sample at round %d)", st, sampledRound)
	}
	if n := round - sampledRound; n > 2 {
		t.Fatalf("halted %d rounds after the minimum sample, want at most 2: %v", n, st)
	}
}
