//go:build !rehearsal

package main

import (
	"strings"
	"testing"
	"time"
)

// A production build has no rehearsal side door, whatever the
// environment says.
func TestProductionBuildIgnoresRehearsalEnv(t *testing.T) {
	t.Setenv("SLIPWAY_REHEARSAL_TOKEN", strings.Repeat("x", 32))
	t.Setenv("SLIPWAY_REHEARSAL_CLOCK", "0")
	h, err := newServerHooks()
	if err != nil {
		t.Fatal(err)
	}
	if h.mount != nil || h.wrapStore != nil || h.setTick != nil || h.ready != nil || !h.background {
		t.Fatalf("production hooks changed: %+v", h)
	}
	if d := time.Since(h.now()); d < 0 || d > time.Minute {
		t.Fatalf("clock is not the wall clock: %v off", d)
	}
}
