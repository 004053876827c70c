package rollout

import (
	"fmt"
	"testing"
)

func TestBucketStableAndSpread(t *testing.T) {
	a, b := Bucket("m1", "agent", "1.2.3"), Bucket("m1", "agent", "1.2.3")
	if a != b || a < 0 || a >= Buckets {
		t.Fatalf("bucket not deterministic or out of range: %d %d", a, b)
	}
	if Bucket("m1", "agent", "1.2.3") == Bucket("m1", "agent", "1.2.4") && Bucket("m2", "agent", "1.2.3") == Bucket("m2", "agent", "1.2.4") {
		t.Fatal("version does not enter the hash")
	}
	if Bucket("ab", "c", "1") == Bucket("a", "bc", "1") && Bucket("x", "yz", "1") == Bucket("xy", "z", "1") {
		t.Fatal("parts are not separated")
	}
	// 10,000 machines at 10 %: expect about 1,000 inside (binomial sd ~30).
	in := 0
	for i := range 10000 {
		if In(fmt.Sprintf("machine-%d", i), "agent", "1.2.3", 10) {
			in++
		}
	}
	if in < 850 || in > 1150 {
		t.Fatalf("10%% rollout selected %d of 10000 machines", in)
	}
}

func TestMonotonic(t *testing.T) {
	// A machine inside at p% stays inside at every larger percentage.
	for i := range 2000 {
		m := fmt.Sprintf("m-%d", i)
		was := false
		for p := 0.0; p <= 100; p += 0.5 {
			now := In(m, "desktop", "2.0.0", p)
			if was && !now {
				t.Fatalf("%s left the rollout at %v%%", m, p)
			}
			was = now
		}
		if !was {
			t.Fatalf("%s not inside at 100%%", m)
		}
	}
}

func TestEdges(t *testing.T) {
	tests := []struct {
		name    string
		machine string
		percent float64
		want    bool
	}{
		{"zero excludes", "m", 0, false},
		{"full includes", "m", 100, true},
		{"full includes anonymous", "", 100, true},
		{"partial excludes anonymous", "", 99.99, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := In(tt.machine, "agent", "1.0.0", tt.percent); got != tt.want {
				t.Fatalf("In = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestValidatePercent(t *testing.T) {
	for _, ok := range []float64{0, 0.01, 12.5, 100} {
		if err := ValidatePercent(ok); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
	for _, bad := range []float64{-1, 100.01, 0.001, 33.333} {
		if err := ValidatePercent(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
