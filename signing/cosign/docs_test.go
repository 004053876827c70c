package cosign

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/testenv"
)

// TestDocsCosignVerify runs docs/signing.md's cosign commands, exactly as
// written, with the pinned real cosign, offline (empty HOME and TUF cache),
// on an artifact Slipway signed (issue 13: the bundle verified only with
// flags no doc gave).
func TestDocsCosignVerify(t *testing.T) {
	cli := newCosignCLI(t)
	bash := testenv.Tool(t, "bash", "apt-get install bash")
	doc, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "signing.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	start, end := strings.Index(s, "<!-- cosign-verify:start -->"), strings.Index(s, "<!-- cosign-verify:end -->")
	if start < 0 || end < start {
		t.Fatal("cosign-verify block not found in docs/signing.md")
	}
	m := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(s[start:end])
	if m == nil {
		t.Fatal("no sh block in the cosign-verify section")
	}
	script := m[1]

	p := signedCopy(t) // slipway-agent_1.2.3_linux_amd64.tar.gz + .cosign.sig + .sigstore.json
	dir := filepath.Dir(p)
	if !strings.Contains(script, filepath.Base(p)) {
		t.Fatalf("the docs verify another file name than %s:\n%s", filepath.Base(p), script)
	}
	_, pub := keyPair(t)
	writeFile(t, filepath.Join(dir, "cosign.pub"), pub)
	run := func() (string, error) {
		cmd := exec.CommandContext(t.Context(), bash, "-euo", "pipefail", "-c", script)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(cli.bin)+":"+os.Getenv("PATH"),
			"HOME="+cli.home, "TUF_ROOT="+filepath.Join(cli.home, "tuf"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run()
	if err != nil || strings.Count(out, "Verified OK") != 2 {
		t.Fatalf("docs commands failed: %v\n%s", err, out)
	}
	// The same commands refuse a tampered artifact.
	if err := os.WriteFile(p, []byte("tampered"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(); err == nil {
		t.Fatalf("docs commands accepted a tampered file:\n%s", out)
	}
}
