package channel

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/updater/updatertest"
)

var update = flag.Bool("update", false, "rewrite golden files")

const sample = `products:
  desktop:
    beta:
      version: 2.0.0-rc.1
      rollout: 25
  agent:
    stable:
      version: 1.2.3
      minVersion: 1.0.0
      notes: Bug fixes.
      pins:
        machines:
          m-42: 1.2.2
      history:
        - version: 1.2.2
          rollout: 100
    beta:
      version: 1.3.0
`

func TestParseKeepsOrderAndDefaults(t *testing.T) {
	f, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Products[0].Name + "," + f.Products[1].Name; got != "desktop,agent" {
		t.Fatalf("product order %s", got)
	}
	agent := f.Product("agent")
	if agent.Channels[0].Name != "stable" || agent.Channels[1].Name != "beta" {
		t.Fatalf("channel order %v %v", agent.Channels[0].Name, agent.Channels[1].Name)
	}
	beta, _ := f.Channel("agent", "beta")
	if beta.Rollout != 100 {
		t.Fatalf("default rollout %v", beta.Rollout)
	}
	// Round trip: marshal then parse gives the same encoding.
	out, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	f2, err := Parse(out)
	if err != nil {
		t.Fatalf("re-parse: %v\n%s", err, out)
	}
	out2, _ := f2.Marshal()
	if !bytes.Equal(out, out2) {
		t.Fatalf("not stable:\n%s\n---\n%s", out, out2)
	}
	updatertest.Golden(t, t.Name(), out, *update)
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ name, yaml string }{
		{"unknown key", "products:\n  agent:\n    stable:\n      version: 1.0.0\n      rolout: 5\n"},
		{"unknown top key", "product: {}\n"},
		{"bad version", "products:\n  agent:\n    stable:\n      version: v1.0\n"},
		{"missing version", "products:\n  agent:\n    stable:\n      rollout: 5\n"},
		{"rollout too big", "products:\n  agent:\n    stable:\n      version: 1.0.0\n      rollout: 101\n"},
		{"rollout too fine", "products:\n  agent:\n    stable:\n      version: 1.0.0\n      rollout: 0.001\n"},
		{"minVersion above version", "products:\n  agent:\n    stable:\n      version: 1.0.0\n      minVersion: 2.0.0\n"},
		{"bad pin", "products:\n  agent:\n    stable:\n      version: 1.0.0\n      pins: {machines: {m: latest}}\n"},
		{"bad product name", "products:\n  Agent/x:\n    stable:\n      version: 1.0.0\n"},
		{"duplicate key", "products:\n  agent:\n    stable:\n      version: 1.0.0\n    stable:\n      version: 1.0.0\n"},
		{"two documents", "products: {}\n---\nproducts: {}\n"},
		{"not yaml", "products: [unclosed\n"},
		{"wrong type", "products: 5\n"},
		{"oversize", "# " + strings.Repeat("x", MaxFileSize) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse([]byte(tt.yaml)); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestEditsAndSave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "release", "channels.yaml")
	f, err := Load(path) // missing file: empty
	if err != nil || len(f.Products) != 0 {
		t.Fatalf("load missing: %v %v", f, err)
	}
	steps := []func() error{
		func() error { return f.Promote("agent", "stable", "1.0.0", 100) },
		func() error { return f.Promote("agent", "stable", "1.1.0", 10) },
		func() error { return f.SetRollout("agent", "stable", 50) },
		func() error { return f.SetPaused("agent", "stable", true) },
		func() error { return f.Pin("agent", "stable", "tenant", "acme", "1.0.0") },
	}
	for i, s := range steps {
		if err := s(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
	g, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := g.Channel("agent", "stable")
	if c.Version != "1.1.0" || c.Rollout != 50 || !c.Paused || c.Previous() != "1.0.0" || c.Pins.Tenants["acme"] != "1.0.0" {
		t.Fatalf("after edits: %+v", c)
	}
	if v, err := g.Rollback("agent", "stable"); err != nil || v != "1.0.0" {
		t.Fatalf("rollback = %s, %v", v, err)
	}
	if c, _ = g.Channel("agent", "stable"); c.Paused || c.Rollout != 100 {
		t.Fatalf("rollback state %+v", c)
	}
	if _, err := g.Rollback("agent", "stable"); !errors.Is(err, ErrNoHistory) {
		t.Fatalf("second rollback: %v", err)
	}
	if err := g.SetRollout("agent", "nightly", 5); !errors.Is(err, ErrNoChannel) {
		t.Fatalf("unknown channel: %v", err)
	}
	if err := g.SetPaused("nope", "stable", true); !errors.Is(err, ErrNoProduct) {
		t.Fatalf("unknown product: %v", err)
	}
	if err := g.Promote("agent", "stable", "not-a-version", 100); err == nil {
		t.Fatal("bad version promoted")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temp files left behind: %v", entries)
	}
}

func TestHistoryBounded(t *testing.T) {
	f := &File{}
	for i := range MaxHistory + 5 {
		if err := f.Promote("agent", "stable", "1.0."+strconv.Itoa(i), 100); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := f.Channel("agent", "stable")
	if len(c.History) != MaxHistory || c.History[0].Version != "1.0."+strconv.Itoa(MaxHistory+3) {
		t.Fatalf("history %d entries, newest %v", len(c.History), c.History[0])
	}
}

// TestRepositoryChannelsFile keeps the committed release/channels.yaml valid.
func TestRepositoryChannelsFile(t *testing.T) {
	if _, err := Load(filepath.Join("..", "..", DefaultPath)); err != nil {
		t.Fatal(err)
	}
}

func TestRollbackRevokes(t *testing.T) {
	f := &File{}
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0"} {
		if err := f.Promote("agent", "stable", v, 100); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Pin("agent", "stable", "machine", "m-1", "1.2.0"); err != nil {
		t.Fatal(err)
	}
	if v, err := f.Rollback("agent", "stable"); err != nil || v != "1.1.0" {
		t.Fatalf("rollback = %s, %v", v, err)
	}
	c, _ := f.Channel("agent", "stable")
	if !slices.Equal(c.Revoked, []string{"1.2.0"}) || len(c.Pins.Machines) != 0 {
		t.Fatalf("after rollback: %+v", c)
	}
	if err := f.Promote("agent", "stable", "1.2.0", 100); !errors.Is(err, ErrRevoked) {
		t.Fatalf("promote revoked: %v", err)
	}
	if err := f.Pin("agent", "stable", "tenant", "acme", "1.2.0"); !errors.Is(err, ErrRevoked) {
		t.Fatalf("pin revoked: %v", err)
	}
	// A second rollback skips nothing revoked and revokes 1.1.0 too.
	if v, err := f.Rollback("agent", "stable"); err != nil || v != "1.0.0" {
		t.Fatalf("second rollback = %s, %v", v, err)
	}
	data, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	g, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := g.Channel("agent", "stable"); !slices.Equal(c.Revoked, []string{"1.2.0", "1.1.0"}) {
		t.Fatalf("revoked list did not survive a round trip: %v\n%s", c.Revoked, data)
	}
	for _, bad := range []string{
		"products:\n  agent:\n    stable:\n      version: 1.0.0\n      revoked: [nope]\n",
		"products:\n  agent:\n    stable:\n      version: 1.0.0\n      revoked: [1.0.0]\n",
		"products:\n  agent:\n    stable:\n      version: 1.0.0\n    beta:\n      version: 1.1.0\n      revoked: [1.0.0]\n",
	} {
		if _, err := Parse([]byte(bad)); !errors.Is(err, ErrInvalid) {
			t.Fatalf("accepted %q: %v", bad, err)
		}
	}
}

func TestPlanRoundTrip(t *testing.T) {
	src := "products:\n  agent:\n    stable:\n      version: 1.0.0\n      plan:\n        steps: [5, 25, 100]\n        bake: 30m\n        gates: {maxFailedRate: 0.05, minSample: 20}\n"
	f, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := f.Channel("agent", "stable")
	if c.Plan == nil || len(c.Plan.Steps) != 3 || time.Duration(c.Plan.Bake) != 30*time.Minute || c.Plan.Gates.MinSample != 20 {
		t.Fatalf("plan %+v", c.Plan)
	}
	data, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if g, err := Parse(data); err != nil || !g.Products[0].Channels[0].Plan.Equal(*c.Plan) {
		t.Fatalf("round trip: %v\n%s", err, data)
	}
	for _, bad := range []string{
		strings.Replace(src, "30m", "soon", 1),
		strings.Replace(src, "[5, 25, 100]", "[50, 25]", 1),
		strings.Replace(src, "minSample", "minSampel", 1),
	} {
		if _, err := Parse([]byte(bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("accepted %q: %v", bad, err)
		}
	}
}
