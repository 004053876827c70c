package release

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// GoReleaserModule and GoReleaserVersion pin the GoReleaser Slipway builds
// when none is installed.
const (
	GoReleaserModule  = "github.com/goreleaser/goreleaser/v2"
	GoReleaserVersion = "v2.15.1"
)

// CacheBin is the Slipway tool cache: $SLIPWAY_CACHE/bin, default
// $HOME/.cache/slipway/bin (where scripts/tools.sh installs pinned tools).
func CacheBin() string {
	if d := os.Getenv("SLIPWAY_CACHE"); d != "" {
		return filepath.Join(d, "bin")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "slipway", "bin")
}

// FindGoReleaser returns goreleaser from PATH or the tool cache.
func FindGoReleaser() (string, bool) {
	if p, err := exec.LookPath("goreleaser"); err == nil {
		return p, true
	}
	p := filepath.Join(CacheBin(), "goreleaser")
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
		return p, true
	}
	return "", false
}

// goreleaserStep finds GoReleaser or builds the pinned version into the
// tool cache with the Go toolchain (a few minutes, once).
type goreleaserStep struct{}

func (goreleaserStep) Name() string { return "goreleaser" }

func (goreleaserStep) Run(ctx context.Context, r *run) error {
	if r.done {
		return errAlreadyPublished
	}
	if r.opts.SkipBuild || r.opts.DryRun {
		return skip("no build")
	}
	if r.opts.GoReleaser != "" {
		return nil
	}
	if p, ok := FindGoReleaser(); ok {
		r.opts.GoReleaser = p
		r.log.Info("using goreleaser", "path", p)
		return nil
	}
	bin := CacheBin()
	r.printf("  goreleaser not found: building %s@%s into %s with the Go toolchain (a few minutes, once)\n", GoReleaserModule, GoReleaserVersion, bin)
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "install", GoReleaserModule+"@"+GoReleaserVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	out := &tailBuffer{max: 16 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go install %s@%s: %w\n%s", GoReleaserModule, GoReleaserVersion, err, out)
	}
	r.opts.GoReleaser = filepath.Join(bin, "goreleaser")
	return nil
}

// buildStep runs `goreleaser release --clean --skip=publish,announce`
// (plus --snapshot) in the project directory.
type buildStep struct{}

func (buildStep) Name() string { return "build" }

func (buildStep) Run(ctx context.Context, r *run) error {
	switch {
	case r.done:
		return errAlreadyPublished
	case r.opts.DryRun:
		return skip("dry run: not building")
	case r.opts.SkipBuild:
		return skip("--skip-build: using %s", r.opts.Dist)
	}
	args := []string{"release", "--clean", "--skip=publish,announce"}
	if r.opts.Snapshot {
		args = append(args, "--snapshot")
	}
	cmd := exec.CommandContext(ctx, r.opts.GoReleaser, args...)
	cmd.Dir = r.opts.Dir
	cmd.Env = os.Environ()
	if r.opts.SlipwayBin != "" {
		cmd.Env = append(cmd.Env, "SLIPWAY_BIN="+r.opts.SlipwayBin)
	}
	if r.opts.Version != "" {
		cmd.Env = append(cmd.Env, "GORELEASER_CURRENT_TAG=v"+strings.TrimPrefix(r.opts.Version, "v"))
	}
	tail := &tailBuffer{max: 32 << 10}
	var w io.Writer = tail
	if r.opts.Verbose {
		w = io.MultiWriter(tail, r.opts.Out)
	}
	cmd.Stdout, cmd.Stderr = w, w
	r.log.Info("running goreleaser", "path", r.opts.GoReleaser, "args", strings.Join(args, " "), "dir", r.opts.Dir)
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("goreleaser %s: %w\n--- goreleaser output (tail) ---\n%s", strings.Join(args, " "), err, tail)
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

var _ io.Writer = (*tailBuffer)(nil)
