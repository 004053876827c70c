package release

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/storage/fs"
)

// TestBuildOnly: --build-only runs GoReleaser (here a stand-in that writes
// the fixture dist/) and reads dist/, then stops: no signature, nothing in
// the store. The same dist/ then publishes with --skip-build.
func TestBuildOnly(t *testing.T) {
	dir := t.TempDir()
	fixture := fixtureDir(t)
	fake := filepath.Join(t.TempDir(), "goreleaser")
	script := "#!/bin/sh\nset -e\n[ \"$1 $2 $3\" = 'release --clean --skip=publish,announce' ] || { echo \"unexpected args $*\" >&2; exit 2; }\n" +
		"rm -rf dist && mkdir dist && cp '" + fixture + "'/* dist/\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	storeDir := t.TempDir()
	st, err := fs.New(storeDir, fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep, err := Run(t.Context(), Options{Dir: dir, Snapshot: true, BuildOnly: true, GoReleaser: fake, Store: st, Out: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	var names []string
	for _, s := range rep.Steps {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, ","); got != "goreleaser,build,dist,image" {
		t.Errorf("steps %s, want goreleaser,build,dist,image (skipped without --image)", got)
	}
	if rep.Version == "" || len(rep.Products) != 0 {
		t.Errorf("report version %q, %d products; want the dist version and no products", rep.Version, len(rep.Products))
	}
	if list, err := st.List(t.Context(), ""); err != nil || len(list) != 0 {
		t.Errorf("build-only wrote to the store: %v %v", list, err)
	}
	sigs, _ := filepath.Glob(filepath.Join(dir, "dist", "*sig*"))
	if len(sigs) != 0 {
		t.Errorf("build-only signed: %v", sigs)
	}
	if !strings.Contains(out.String(), "build only") {
		t.Errorf("output does not say build only:\n%s", out.String())
	}
	for _, bad := range []Options{{BuildOnly: true, SkipBuild: true, Store: st}, {BuildOnly: true, DryRun: true, Store: st}, {ImageRepo: "r.example/s", Store: st}} {
		if _, err := Run(t.Context(), bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
