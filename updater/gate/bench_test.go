package gate_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
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

// BenchmarkBadRollout promotes a bad version with steps 5/25/100 % to
// 2,000 simulated machines that heartbeat and check once a minute (one
// round = one heartbeat interval), rolls back as soon as the halt shows,
// and reports the share of the fleet ever offered the version, the
// minutes from promotion to the halt, from the gate's minimum sample to
// the halt, and from the rollback to the whole fleet on the good version.
// Run: go test ./updater/gate -run '^$' -bench BadRollout -benchtime 1x
func BenchmarkBadRollout(b *testing.B) {
	for _, behaviour := range []string{gatetest.Crash, gatetest.Silent} {
		b.Run(behaviour, func(b *testing.B) {
			for range b.N {
				badRollout(b, behaviour)
			}
		})
	}
}

func badRollout(b *testing.B, behaviour string) {
	e := newEnv(b, 2000)
	f := e.fleet
	f.Step = time.Minute
	// Like the server: silent after 1.5 heartbeat intervals (one missed
	// heartbeat), the baseline over machines seen within StaleAfter (3).
	f.OfflineAfter, f.StaleAfter = 90*time.Second, 3*time.Minute
	p := gate.Plan{Steps: []float64{5, 25, 100}, Bake: gate.Duration(30 * time.Minute),
		Gates: gate.Gates{MaxFailedRate: 0.05, MaxOfflineRate: 0.10, MinSample: 20}}
	e.release("1.1.0", behaviour, p)
	start := f.Now
	k := gate.Key{Product: "agent", Channel: "stable"}
	var sampled time.Time
	for i := 0; i < 240; i++ {
		f.Round(b)
		s, _ := f.Sample(context.Background(), "agent", "1.1.0", f.Now)
		if sampled.IsZero() && s.Upgraded+s.Failed >= p.Gates.MinSample {
			sampled = f.Now.Add(-f.Step)
		}
		if st, _ := f.Ctrl.State(k); st.Halted {
			break
		}
	}
	st, _ := f.Ctrl.State(k)
	if !st.Halted {
		b.Fatalf("not halted: %v", st)
	}
	halt := st.HaltedAt
	if _, err := e.file.Rollback("agent", "stable"); err != nil {
		b.Fatal(err)
	}
	e.apply()
	back := f.Now
	for f.Count("1.0.0") < len(f.Machines) {
		f.Round(b)
	}
	b.ReportMetric(100*float64(f.Exposed("1.1.0"))/float64(len(f.Machines)), "%exposed")
	b.ReportMetric(halt.Sub(start).Minutes(), "min-to-halt")
	b.ReportMetric(halt.Sub(sampled).Minutes(), "min-sample-to-halt")
	b.ReportMetric(f.Now.Sub(back).Minutes(), "min-rollback-to-fleet-back")
}

// BenchmarkCheckGates measures the update check with a planned channel
// (the gate controller caps the rollout at its step) against the same
// channel without a plan, side by side.
func BenchmarkCheckGates(b *testing.B) {
	for _, gates := range []bool{false, true} {
		name := "gates-off"
		if gates {
			name = "gates-on"
		}
		b.Run(name, func(b *testing.B) {
			st := memstore.New()
			pub := updatertest.New(b, st, "", 1)
			keys, err := repo.EnsureKeys(filepath.Join(b.TempDir(), "keys"), 1)
			if err != nil {
				b.Fatal(err)
			}
			f := &channel.File{}
			for _, v := range []string{"1.0.0", "1.1.0"} {
				pub.Publish(b, "agent", v, updatertest.Agent(v)...)
				if err := f.Promote("agent", "stable", v, 50); err != nil {
					b.Fatal(err)
				}
			}
			ctrl := gate.New(&gate.MemStore{}, zeroSource{}, gate.Options{})
			opts := endpoint.Options{BaseURL: "http://127.0.0.1:8080"}
			if gates {
				c, _ := f.Channel("agent", "stable")
				c.Rollout = 100
				c.Plan = &gate.Plan{Steps: []float64{50, 100}, Bake: gate.Duration(time.Hour)}
				opts.Rollouts = ctrl
				if err := ctrl.Tick(b.Context(), []gate.Rollout{{Key: gate.Key{Product: "agent", Channel: "stable"}, Version: "1.1.0", Plan: *c.Plan}}, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := publish.Apply(b.Context(), publish.Config{Store: st, Verifier: catalog.Minisign{Key: pub.PK}}, f, keys, time.Now()); err != nil {
				b.Fatal(err)
			}
			h, err := endpoint.New(b.Context(), st, opts)
			if err != nil {
				b.Fatal(err)
			}
			r := chi.NewRouter()
			h.Routes(r)
			reqs := make([]*http.Request, 10000)
			for i := range reqs {
				reqs[i] = httptest.NewRequest(http.MethodGet, "/v1/updates/agent/stable?os=linux&arch=amd64&current=1.0.0&machine=m-"+strconv.Itoa(i), nil)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r.ServeHTTP(httptest.NewRecorder(), reqs[i%len(reqs)])
			}
		})
	}
}

type zeroSource struct{}

func (zeroSource) Sample(context.Context, string, string, time.Time) (gate.Sample, error) {
	return gate.Sample{}, nil
}
