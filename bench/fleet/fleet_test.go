package fleet

import (
	"encoding/json"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestYearShort plays testdata/year-short.yaml (a simulated year: 26
// releases, 3 rollbacks, every key rotated (TUF roles and the minisign
// release key), 4 restarts and 2 kill -9 of the server process, 2 store outages,
// offline machines, skewed clocks, a lossy network) and asserts: no
// acknowledged heartbeat lost, no machine bricked or stuck, every online
// machine on each promoted version, and back on the target of each
// rollback, within two poll intervals, no revoked version installed after
// its revocation, no TUF
// metadata expired at any simulated instant, no 5xx outside the outages.
// FLEET_MACHINES overrides the machine count (default here: 20, 8 under -race, to
// keep CI short; the file says 200).
func TestYearShort(t *testing.T) {
	if testing.Short() {
		t.Skip("rehearsal")
	}
	sc, err := Load("testdata/year-short.yaml")
	if err != nil {
		t.Fatal(err)
	}
	n := 20
	if raceMachines > 0 {
		n = raceMachines
	}
	if v := os.Getenv("FLEET_MACHINES"); v != "" {
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	sc.Resize(n)
	res, err := Run(t.Context(), sc, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	if p := os.Getenv("FLEET_RESULT"); p != "" {
		_ = os.WriteFile(p, out, 0o644)
	}
	t.Logf("%d machines, %.0f simulated days in %.0fs; %d heartbeats acked, %d stored; %d requests",
		res.Machines, res.SimDays, res.WallSeconds, res.HeartbeatsAcked, res.HeartbeatsStored, sum(res.Requests))
	if res.HeartbeatsStored < res.HeartbeatsAcked || res.HeartbeatsAcked == 0 {
		t.Errorf("heartbeats: %d acknowledged, %d stored", res.HeartbeatsAcked, res.HeartbeatsStored)
	}
	if len(res.Bricked) > 0 || len(res.Stuck) > 0 {
		t.Errorf("bricked %v, stuck %v", res.Bricked, res.Stuck)
	}
	promoted, rollbacks := 0, 0
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
		if len(p.Late) > 0 || p.Eligible == 0 {
			t.Errorf("%s at %s (rollback %v): %d of %d eligible machines late: %v", p.Version, p.At.Format(time.DateOnly), p.Rollback, len(p.Late), p.Eligible, p.Late)
		}
	}
	if promoted < 20 || rollbacks < 3 {
		t.Errorf("only %d promotions and %d rollbacks measured (of %d)", promoted, rollbacks, len(res.Promotions))
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
	if res.Kills < 2 || res.MinisignRotations < 1 || res.ServerProcesses < 1+4+2 {
		t.Errorf("%d kill -9, %d release-key changes, %d server processes: the scenario did not run its faults",
			res.Kills, res.MinisignRotations, res.ServerProcesses)
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
