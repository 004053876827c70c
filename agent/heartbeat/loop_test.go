package heartbeat

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/agent/inventory"
)

func TestBackoffGrowsAndCaps(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base, maxDelay := 5*time.Second, time.Minute
	tests := []struct {
		n      int
		lo, hi time.Duration
	}{
		{0, 2500 * time.Millisecond, 5 * time.Second},
		{1, 5 * time.Second, 10 * time.Second},
		{2, 10 * time.Second, 20 * time.Second},
		{3, 20 * time.Second, 40 * time.Second},
		{4, 30 * time.Second, time.Minute},
		{50, 30 * time.Second, time.Minute},
	}
	for _, tc := range tests {
		for range 100 {
			d := Backoff(r, tc.n, base, maxDelay)
			if d < tc.lo || d > tc.hi {
				t.Fatalf("Backoff(n=%d) = %s, want in [%s, %s]", tc.n, d, tc.lo, tc.hi)
			}
		}
	}
}

func TestJitterSpreads(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	seen := map[time.Duration]bool{}
	for range 200 {
		d := Jitter(r, time.Minute)
		if d < 54*time.Second || d > 66*time.Second {
			t.Fatalf("Jitter = %s outside ±10%%", d)
		}
		seen[d] = true
	}
	if len(seen) < 50 {
		t.Fatalf("jitter is not spreading: %d distinct values of 200", len(seen))
	}
	if Jitter(r, 5*time.Nanosecond) != 5*time.Nanosecond {
		t.Fatal("tiny interval changed")
	}
}

func TestMetrics(t *testing.T) {
	m := Metrics(&inventory.Report{
		UptimeSeconds: 42,
		Memory:        inventory.Memory{TotalBytes: 1000, AvailableBytes: 250},
		Disks:         []inventory.Disk{{Mountpoint: "/boot", TotalBytes: 10, FreeBytes: 0}, {Mountpoint: "/", TotalBytes: 200, FreeBytes: 50}},
		Load:          &inventory.Load{Load1: 1},
		CPU:           inventory.CPU{LogicalCores: 4},
	})
	want := map[string]any{"uptime": uint64(42), "memoryTotalBytes": uint64(1000), "memory": 75.0,
		"disk": 75.0, "diskFreeBytes": uint64(50), "load1": 1.0, "cpu": 25.0}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v (%T), want %v", k, m[k], m[k], v)
		}
	}
}
