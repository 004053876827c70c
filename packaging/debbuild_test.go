package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/slipwayhq/slipway/internal/testenv"
)

// buildAgentDeb builds the agent's .deb at version for this machine's
// architecture the way a release does — GoReleaser's nfpm with the
// repository's .goreleaser.yaml — narrowed to what the test installs: the
// agent build for linux/GOARCH only, no signing hooks (they need the
// release keys), no other product or format. The package's contents,
// scripts and unit are the release's.
func buildAgentDeb(t *testing.T, version string) string {
	t.Helper()
	gr := testenv.Tool(t, "goreleaser", "scripts/tools.sh goreleaser")
	testenv.Tool(t, "git", "apt-get install git")
	root := testenv.RepoRoot()
	b, err := os.ReadFile(filepath.Join(root, ".goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	dist := filepath.Join(t.TempDir(), "dist")
	cfg["dist"] = dist
	cfg["builds"] = narrow(t, cfg["builds"], func(m map[string]any) {
		m["goos"] = []string{"linux"}
		m["goarch"] = []string{runtime.GOARCH}
		delete(m, "hooks")
	})
	cfg["archives"] = []map[string]any{{"id": "agent", "ids": []string{"agent"}, "formats": []string{"binary"}}}
	cfg["nfpms"] = narrow(t, cfg["nfpms"], func(m map[string]any) { m["formats"] = []string{"deb"} })
	cfg["snapshot"] = map[string]any{"version_template": version}
	cfg["checksum"] = map[string]any{"disable": true}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "goreleaser.yaml")
	if err := os.WriteFile(conf, out, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gr, "release", "--snapshot", "--clean", "--skip=publish,announce,validate,sign", "--config", conf)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("goreleaser: %v\n%s", err, b)
	}
	debs, _ := filepath.Glob(filepath.Join(dist, "slipway-agent_"+version+"_linux_"+runtime.GOARCH+".deb"))
	if len(debs) != 1 {
		all, _ := filepath.Glob(filepath.Join(dist, "*"))
		t.Fatalf("no agent .deb %s in dist: %v", version, all)
	}
	return debs[0]
}

// narrow keeps the agent entry of a list of GoReleaser configs and edits it.
func narrow(t *testing.T, list any, edit func(map[string]any)) []any {
	t.Helper()
	items, _ := list.([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok && m["id"] == "agent" {
			edit(m)
			return []any{m}
		}
	}
	t.Fatalf("no agent entry in %v", list)
	return nil
}
