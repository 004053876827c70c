package fleet

import (
	"encoding/json"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/pgtest"
)

// expect is what a rehearsal must at least have exercised.
type expect struct {
	promotions, rollbacks, kills, minisign, processes, pauses, pins, staged int
}

// TestYearShort plays testdata/year-short.yaml (a simulated year: 26
// releases, 3 rollbacks, every key rotated (TUF roles and the minisign
// release key), 4 restarts and 2 kill -9 of the server process, 2 store
// outages, a pause, pins, offline machines, skewed clocks, a lossy
// network) on SQLite and
// asserts: no acknowledged heartbeat lost, no machine bricked or stuck,
// every online machine on each promoted version, and back on the target
// of each rollback, within two poll intervals, no revoked version
// installed after its revocation, no TUF metadata expired at any
// simulated instant, no 5xx outside the outages, nothing installed while
// paused, no pinned machine moved. It runs the 200 machines (CI:
// scripts/test.sh runs it without -race); under -race it runs 8 with a 4 h
// step instead of 2 h unless FLEET_FULL=1. FLEET_MACHINES overrides the
// machine count; FLEET_DAYS plays only the first days.
func TestYearShort(t *testing.T) {
	sc := loadScenario(t, 200)
	play(t, sc, expect{promotions: 20, rollbacks: 3, kills: 2, minisign: 1, processes: 1 + 4 + 2, pauses: 1, pins: 1, staged: 1})
}

// TestYearShortPostgres plays the same scenario with two server processes
// on one PostgreSQL database behind the round-robin (each restart restarts
// both; kill -9 hits one while the other serves). Under -race (CI) it
// plays the first 130 days only (a rollback, the targets and online key
// rotations, a restart, a kill -9, an outage, a pin); FLEET_FULL=1 plays the
// year.
func TestYearShortPostgres(t *testing.T) {
	sc := loadScenario(t, 8)
	sc.DatabaseURL, sc.Replicas = pgtest.Start(t), 2
	want := expect{promotions: 20, rollbacks: 3, kills: 2, minisign: 1, processes: 2 + 8 + 2, pauses: 1, pins: 1, staged: 1}
	if raceMachines > 0 && os.Getenv("FLEET_FULL") == "" {
		sc.Truncate(130)
		want = expect{promotions: 7, rollbacks: 1, kills: 1, processes: 2 + 2 + 1, pins: 1} // 1 restart (both), 1 kill
	}
	play(t, sc, want)
}

func loadScenario(t *testing.T, n int) *Scenario {
	t.Helper()
	if testing.Short() {
		t.Skip("rehearsal")
	}
	sc, err := Load("testdata/year-short.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if raceMachines > 0 {
		n = raceMachines
	}
	if v := os.Getenv("FLEET_MACHINES"); v != "" {
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	sc.Resize(n)
	if raceMachines > 0 && os.Getenv("FLEET_FULL") == "" {
		sc.Step = Duration(4 * time.Hour) // half the rounds: the race detector is slow
	}
	return sc
}

func play(t *testing.T, sc *Scenario, want expect) {
	t.Helper()
	if v := os.Getenv("FLEET_DAYS"); v != "" {
		// A slice of the year (the long runs with many machines): every
		// assertion holds, the event counts are those of the slice.
		days, err := strconv.ParseFloat(v, 64)
		if err != nil || days <= 0 {
			t.Fatalf("FLEET_DAYS=%q: want a positive number of days", v)
		}
		sc.Truncate(days)
		want = expect{}
	}
	res, err := Run(t.Context(), sc, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	if p := os.Getenv("FLEET_RESULT"); p != "" {
		_ = os.WriteFile(p+"."+t.Name()+".json", out, 0o644)
	}
	t.Logf("%d machines, %.0f simulated days in %.0fs; %d heartbeats acked, %d stored; %d requests",
		res.Machines, res.SimDays, res.WallSeconds, res.HeartbeatsAcked, res.HeartbeatsStored, sum(res.Requests))
	if res.HeartbeatsStored < res.HeartbeatsAcked || res.HeartbeatsAcked == 0 {
		t.Errorf("heartbeats: %d acknowledged, %d stored", res.HeartbeatsAcked, res.HeartbeatsStored)
	}
	if len(res.Bricked) > 0 || len(res.Stuck) > 0 {
		t.Errorf("bricked %v, stuck %v", res.Bricked, res.Stuck)
	}
	promoted, rollbacks, staged := 0, 0, 0
	for _, p := range res.Promotions {
		if p.Superseded {
			continue
		}
		if p.Rollback {
			rollbacks++
			t.Logf("rollback to %s (revoking %s) at %s: %d of %d eligible machines late, p50 %.0fh, max %.0fh",
				p.Version, p.Revoked, p.At.Format(time.DateOnly), len(p.Late), p.Eligible, p.P50Hours, p.MaxHours)
		} else {
			promoted++
		}
		if p.Rollout > 0 {
			staged++
		}
		if len(p.OutsideRollout) > 0 {
			t.Errorf("%s at %s, staged at %g%%: installed outside the rollout: %v", p.Version, p.At.Format(time.DateOnly), p.Rollout, p.OutsideRollout)
		}
		if len(p.Late) > 0 || (p.Eligible == 0 && p.Rollout == 0) {
			t.Errorf("%s at %s (rollback %v): %d of %d eligible machines late: %v", p.Version, p.At.Format(time.DateOnly), p.Rollback, len(p.Late), p.Eligible, p.Late)
		}
	}
	if promoted < want.promotions || rollbacks < want.rollbacks || staged < want.staged {
		t.Errorf("only %d promotions (%d staged) and %d rollbacks measured (of %d)", promoted, staged, rollbacks, len(res.Promotions))
	}
	if len(res.RevokedInstalls) > 0 {
		t.Errorf("revoked versions installed: %v", res.RevokedInstalls)
	}
	if len(res.ExpiredAt) > 0 {
		t.Errorf("metadata expired at %v", res.ExpiredAt)
	}
	if len(res.Errors5xx) > 0 {
		t.Errorf("5xx outside outages: %v", res.Errors5xx)
	}
	if res.Kills < want.kills || res.MinisignRotations < want.minisign || res.ServerProcesses < want.processes ||
		res.Pauses < want.pauses || res.HeldReleases < want.pauses || res.Pinned < want.pins {
		t.Errorf("%d kill -9, %d release-key changes, %d server processes, %d pauses holding %d releases, %d pinned: the scenario did not run its events",
			res.Kills, res.MinisignRotations, res.ServerProcesses, res.Pauses, res.HeldReleases, res.Pinned)
	}
	if len(res.PausedInstalls) > 0 || len(res.PinViolations) > 0 {
		t.Errorf("installs while paused %v; pinned machines moved %v", res.PausedInstalls, res.PinViolations)
	}
	t.Logf("%s: server CPU %.1fs, peak RSS %.0f MiB; p99 ms by route %v",
		res.Database, res.ServerCPUSeconds, res.ServerPeakRSSMiB, res.P99ms)
	if t.Failed() {
		t.Logf("result:\n%s", out)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
