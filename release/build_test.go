package release

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/signing"
	"github.com/slipwayhq/slipway/signing/keyring"
	"github.com/slipwayhq/slipway/storage/fs"
)

// The GoReleaser build of 12 binaries takes minutes on a cold cache, so it
// runs once per test binary: a full release.Run (goreleaser + build + sign
// + publish into a filesystem store) of a temporary git repository made
// from this checkout. Tests then copy its dist/ and publish the copy.
var shared struct {
	once       sync.Once
	root       string // temp dir removed by TestMain
	repo       string // the temporary git repository
	dist       string // its dist/ after the shared run
	store      string // filesystem store the shared run published into
	signers    []signing.Backend
	report     *Report
	out        string // progress output of the shared run
	hookBin    string // what the post-build hook ran
	goreleaser string
	err        error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.root != "" {
		os.RemoveAll(shared.root)
	}
	os.Exit(code)
}

// sharedBuild returns the result of the one full snapshot release.
func sharedBuild(t *testing.T) {
	t.Helper()
	gr := testenv.Tool(t, "goreleaser", "scripts/tools.sh goreleaser")
	testenv.Tool(t, "git", "apt-get install git")
	shared.once.Do(func() { shared.goreleaser = gr; shared.err = doSharedBuild(gr) })
	if shared.err != nil {
		t.Fatalf("shared GoReleaser build: %v\n%s", shared.err, shared.out)
	}
}

func doSharedBuild(gr string) error {
	root, err := os.MkdirTemp("", "slipway-release-test-")
	if err != nil {
		return err
	}
	shared.root = root
	shared.repo = filepath.Join(root, "repo")
	if err := makeRepo(shared.repo); err != nil {
		return err
	}
	shared.hookBin, err = hookBinary(root, shared.repo)
	if err != nil {
		return err
	}
	data := filepath.Join(root, "data")
	shared.store = filepath.Join(root, "store")
	st, err := fs.New(shared.store, fs.Options{})
	if err != nil {
		return err
	}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	shared.report, err = Run(ctx, Options{
		Dir: shared.repo, Snapshot: true, Store: st, DataDir: data,
		GoReleaser: gr, SlipwayBin: shared.hookBin, Out: &out,
	})
	shared.out = out.String()
	shared.dist = filepath.Join(shared.repo, "dist")
	if err != nil {
		return err
	}
	// The same dev keys Run generated, for the tests' verifiers.
	shared.signers, err = devSigners(filepath.Join(data, "keys"))
	return err
}

// makeRepo extracts HEAD of this checkout into dir and commits it with
// fixed dates and a remote (GoReleaser needs both), so the commit is fixed
// whatever the working tree looks like.
func makeRepo(dir string) error {
	top, err := gitOut("", "rev-parse", "--show-toplevel")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tarball := filepath.Join(filepath.Dir(dir), "head.tar")
	if _, err := gitOut(top, "archive", "--format=tar", "-o", tarball, "HEAD"); err != nil {
		return err
	}
	if out, err := exec.Command("tar", "-xf", tarball, "-C", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("untar HEAD: %w: %s", err, out)
	}
	for _, args := range [][]string{
		{"init", "-q"},
		{"add", "-A"},
		{"-c", "user.name=Slipway Test", "-c", "user.email=test@example.invalid", "commit", "-q", "-m", "release test"},
		{"remote", "add", "origin", "https://example.invalid/slipway.git"},
	} {
		if _, err := gitOut(dir, args...); err != nil {
			return err
		}
	}
	return nil
}

func gitOut(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE=2026-01-02T03:04:05Z", "GIT_COMMITTER_DATE=2026-01-02T03:04:05Z")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// hookBinary builds the slipway CLI of the temporary repository for the
// post-build hook (`slipway sign-binary`).
func hookBinary(root, repo string) (string, error) {
	bin := filepath.Join(root, "bin", "slipway")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/slipway")
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build slipway: %w\n%s", err, out)
	}
	if out, err := exec.Command(bin, "sign-binary", "--help").CombinedOutput(); err != nil {
		return "", fmt.Errorf("slipway sign-binary: %w\n%s", err, out)
	}
	return bin, nil
}

// devSigners returns the keyring's dev signers (cosign and minisign keys
// generated once into dir), as `slipway release --snapshot` uses them.
func devSigners(dir string) ([]signing.Backend, error) {
	cfg, err := keyring.EnsureDevKeys(dir)
	if err != nil {
		return nil, err
	}
	return cfg.ArtifactSigners()
}

// copyDist copies the top-level files of the shared dist/ (archives,
// packages, installers, SBOMs, provenance, checksums, metadata) into a fresh
// directory, without signatures, and links the build directories.
func copyDist(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(shared.dist)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() {
			// The binaries (read by the attest and msi steps when a file
			// must be described again), shared read-only.
			if err := os.Symlink(filepath.Join(shared.dist, n), filepath.Join(dst, n)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if strings.HasSuffix(n, signing.TauriSigExt) || strings.HasSuffix(n, signing.MinisigExt) || strings.HasSuffix(n, signing.CosignBundleExt) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(shared.dist, n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}
