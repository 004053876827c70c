package gate

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestEvaluate(t *testing.T) {
	p := Plan{Steps: []float64{5, 25, 100}, Bake: Duration(time.Hour), Gates: Gates{MaxFailedRate: 0.1, MaxOfflineRate: 0.2, MinSample: 10}}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	st, ev := Evaluate(p, State{}, "1.1.0", Sample{}, t0)
	if ev != Started || st.Step != 0 || st.Percent(p) != 5 {
		t.Fatalf("start: %v %v", st, ev)
	}
	tests := []struct {
		name string
		s    Sample
		at   time.Duration
		ev   Event
		step int
		gate string
	}{
		{"below the sample nothing trips", Sample{Upgraded: 2, Failed: 7}, time.Minute, None, 0, ""},
		{"bake not over", Sample{Upgraded: 30, Failed: 1}, 59 * time.Minute, None, 0, ""},
		{"bake over: next step", Sample{Upgraded: 30, Failed: 1}, time.Hour, Advance, 1, ""},
		{"failed rate trips", Sample{Upgraded: 30, Failed: 4}, time.Hour, Halt, 0, GateFailed},
		{"offline rate trips", Sample{Upgraded: 30, Offline: 7}, time.Hour, Halt, 0, GateOffline},
		{"exactly at threshold holds", Sample{Upgraded: 20, Offline: 4}, time.Minute, None, 0, ""},
		// 10 of 40 upgraded offline = 25 %: 5 points above a fleet where
		// 20 % of the other machines are as late (the server was down).
		{"offline no worse than the baseline holds", Sample{Upgraded: 40, Offline: 10, Baseline: 0.2}, time.Minute, None, 0, ""},
		{"offline well above the baseline trips", Sample{Upgraded: 40, Offline: 18, Baseline: 0.2}, time.Minute, Halt, 0, GateOffline},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ev := Evaluate(p, st, "1.1.0", tt.s, t0.Add(tt.at))
			if ev != tt.ev || got.Step != tt.step || got.Gate != tt.gate || got.Halted != (tt.gate != "") {
				t.Fatalf("got %v %q", got, ev)
			}
			if tt.ev == Halt {
				if got.Percent(p) != 0 {
					t.Fatal("a halted rollout still offers the version")
				}
				if again, ev := Evaluate(p, got, "1.1.0", Sample{Upgraded: 100}, t0.Add(5*time.Hour)); ev != None || !again.Halted {
					t.Fatal("a halt lifted itself")
				}
			}
		})
	}
	// The last step is final; a new version restarts the plan.
	last := State{Version: "1.1.0", Step: 2, StepStarted: t0}
	if got, ev := Evaluate(p, last, "1.1.0", Sample{Upgraded: 100}, t0.Add(10*time.Hour)); ev != None || got.Step != 2 {
		t.Fatalf("past the last step: %v %v", got, ev)
	}
	if got, ev := Evaluate(p, State{Version: "1.1.0", Halted: true}, "1.2.0", Sample{}, t0); ev != Started || got.Halted {
		t.Fatalf("new version: %v %v", got, ev)
	}
	halted := State{Version: "1.1.0", Halted: true, HaltedAt: t0, Gate: GateOffline, Sample: Sample{Upgraded: 40, Offline: 7}}
	if s := halted.String(); !strings.Contains(s, "halted by gate offline-after-upgrade at 2026-03-01T12:00:00Z: 7 of 40 upgraded machines offline") {
		t.Fatal(s)
	}
}

func TestPlanValidate(t *testing.T) {
	for _, bad := range []Plan{
		{},
		{Steps: []float64{0, 100}},
		{Steps: []float64{50, 25}},
		{Steps: []float64{5, 101}},
		{Steps: []float64{5.001}},
		{Steps: []float64{5}, Bake: Duration(-time.Second)},
		{Steps: []float64{5}, Gates: Gates{MaxFailedRate: 2}},
		{Steps: []float64{5}, Gates: Gates{MinSample: -1}},
		{Steps: make([]float64, MaxSteps+1)},
		{Steps: []float64{5}, OnHalt: "revert"},
	} {
		if bad.Validate() == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
	for _, ok := range []string{"", OnHaltStop, OnHaltRollback} {
		if err := (Plan{Steps: []float64{5, 25, 100}, Bake: Duration(time.Hour), OnHalt: ok}).Validate(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOnHaltRollbackRecorded: with onHalt: rollback, a halt records the
// rollback request (what `slipway gate autorollback` acts on) and says so;
// with the default policy it does not.
func TestOnHaltRollbackRecorded(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	bad := Sample{Upgraded: 10, Failed: 30}
	for _, policy := range []string{"", OnHaltStop, OnHaltRollback} {
		p := Plan{Steps: []float64{5, 100}, Gates: Gates{MinSample: 10}, OnHalt: policy}
		st, _ := Evaluate(p, State{}, "1.1.0", Sample{}, t0)
		st, ev := Evaluate(p, st, "1.1.0", bad, t0.Add(time.Minute))
		want := policy == OnHaltRollback
		if ev != Halt || st.RollbackRequested != want || strings.Contains(st.String(), "rollback requested") != want {
			t.Errorf("policy %q: %v %q, rollback requested %v", policy, ev, st.String(), st.RollbackRequested)
		}
	}
}

func TestMemStoreCompareAndSwap(t *testing.T) {
	var m MemStore
	k := Key{"agent", "stable"}
	ctx := t.Context()
	_, rev, _ := m.Load(ctx, k)
	if ok, _ := m.Save(ctx, k, rev, State{Version: "a"}); !ok {
		t.Fatal("first save refused")
	}
	if ok, _ := m.Save(ctx, k, rev, State{Version: "b"}); ok {
		t.Fatal("a stale revision won")
	}
	if st, _, _ := m.Load(ctx, k); st.Version != "a" {
		t.Fatalf("state %v", st)
	}
}

func TestHistoryBoundedAndSmall(t *testing.T) {
	p := Plan{Steps: []float64{5, 25, 100}, Bake: Duration(24 * time.Hour), Gates: Gates{MaxFailedRate: 1, MaxOfflineRate: 1}}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	st, _ := Evaluate(p, State{}, "1.1.0", Sample{}, t0)
	for i := 1; i < 2000; i++ {
		prev := st
		st, _ = Evaluate(p, st, "1.1.0", Sample{Upgraded: 999999, Failed: 999999, Offline: 999999, Fleet: 999999}, t0.Add(time.Duration(i)*time.Minute))
		if len(prev.History) > 0 && len(st.History) > 0 && &prev.History[0] == &st.History[0] && st.LastPoint() != prev.LastPoint() {
			t.Fatal("history shared with the previous state")
		}
	}
	if len(st.History) != MaxHistory {
		t.Fatalf("%d points", len(st.History))
	}
	for i := 1; i < len(st.History); i++ {
		if d := st.History[i].At.Sub(st.History[i-1].At); d < HistoryEvery {
			t.Fatalf("points %v apart", d)
		}
	}
	data, _ := json.Marshal(st)
	if len(data) > 32<<10 {
		t.Fatalf("state is %d bytes", len(data))
	}
}
