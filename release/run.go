package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/signing"
	"github.com/slipwayhq/slipway/storage"
)

// ErrConflict is returned (wrapped, with the differing files) when a version
// is already published with different bytes. Published versions are
// immutable: nothing is overwritten.
var ErrConflict = errors.New("version already published with different content")

// Options configures Run. The zero value is not enough: Store is required.
type Options struct {
	// Dir is the project root holding .goreleaser.yaml. Default: ".".
	Dir string
	// Dist is GoReleaser's output directory. Default: <Dir>/dist. Only
	// --skip-build may point it elsewhere (GoReleaser always writes <Dir>/dist).
	Dist string
	// Version to release ("v1.2.3" or "1.2.3"). Default: GoReleaser's
	// current git tag; ignored with Snapshot.
	Version string
	// Snapshot builds an unreleased version of the current commit
	// (0.0.1-snapshot.g<commit>) and signs it with dev keys.
	Snapshot bool
	// DryRun builds nothing and writes nothing: it plans from an existing
	// dist/ and shows what would be uploaded.
	DryRun bool
	// SkipBuild publishes an existing dist/ instead of running GoReleaser.
	SkipBuild bool
	// SkipAttest publishes no SBOMs and no provenance (benchmarks).
	SkipAttest bool
	// Image also builds the server for linux/amd64 and linux/arm64 and
	// its OCI image, published as an OCI layout archive in the "server"
	// product (slower: two more cross-compiled binaries).
	Image bool
	// ImageRepo, with Image, is where the image is pushed under the
	// version tag and cosign-signed (registry.example.com/slipway/slipway).
	// Credentials come from RegistryUsername/RegistryPassword, else the
	// Docker config ($DOCKER_CONFIG, ~/.docker/config.json).
	ImageRepo string
	// RegistryUsername and RegistryPassword, when set, authenticate to
	// ImageRepo's registry only (the slipway CLI reads them from
	// SLIPWAY_REGISTRY_USERNAME and SLIPWAY_REGISTRY_PASSWORD).
	RegistryUsername, RegistryPassword string
	// ImageInsecure reaches ImageRepo over plain HTTP (a local registry).
	ImageInsecure bool
	// BuildOnly runs GoReleaser and checks dist/, then stops: nothing is
	// signed, nothing is read from or written to the store. A later run
	// with SkipBuild signs and publishes that dist/ (the Dagger module
	// caches the build and runs only the publish every time).
	BuildOnly bool
	// Store receives the release. Required.
	Store storage.Store
	// Prefix is prepended to every key (<prefix>/releases/...). Default: none.
	Prefix string
	// PublicURL, when set, is the base URL the store is served under; the
	// report then shows PublicURL/<key> instead of store URLs.
	PublicURL string
	// URLTTL is the validity of presigned URLs in the report. Default: 24h.
	URLTTL time.Duration
	// DataDir holds dev keys (<DataDir>/keys) for snapshots. Default: "./data".
	DataDir string
	// Signers sign every archive and the checksums file. Default: the
	// keyring's artifact signers (dev keys with Snapshot, else from env).
	Signers []signing.Backend
	// GoReleaser is the goreleaser binary. Default: PATH, then the Slipway
	// tool cache, else the pinned version built with `go install`.
	GoReleaser string
	// SlipwayBin is the slipway binary the post-build hook runs
	// (`sign-binary`), passed as $SLIPWAY_BIN. Default: inherited env, or
	// `slipway` from PATH.
	SlipwayBin string
	// Parallelism bounds concurrent signing and uploads. Default: 4.
	Parallelism int
	// Out receives the human progress and the final report. Default: none.
	Out io.Writer
	// Verbose copies GoReleaser's own output to Out.
	Verbose bool
	// Logger receives structured logs. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

func (o *Options) setDefaults() error {
	if o.Store == nil {
		return errors.New("release: no store")
	}
	if o.Dir == "" {
		o.Dir = "."
	}
	if o.Dist == "" {
		o.Dist = filepath.Join(o.Dir, "dist")
	}
	if o.DataDir == "" {
		o.DataDir = "data"
	}
	if o.URLTTL == 0 {
		o.URLTTL = 24 * time.Hour
	}
	if o.Parallelism <= 0 {
		o.Parallelism = 4
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Snapshot {
		o.Version = ""
	}
	if v := strings.TrimPrefix(o.Version, "v"); o.Version != "" && !versionRe.MatchString(v) {
		return fmt.Errorf("release: version %q is not SemVer (v1.2.3)", o.Version)
	}
	if (o.ImageRepo != "" || o.ImageInsecure) && !o.Image {
		return errors.New("release: --image-repo and --image-insecure-registry need --image")
	}
	if (o.RegistryUsername == "") != (o.RegistryPassword == "") {
		return errors.New("release: registry credentials need both a username and a password (SLIPWAY_REGISTRY_USERNAME, SLIPWAY_REGISTRY_PASSWORD)")
	}
	if o.BuildOnly && (o.SkipBuild || o.DryRun) {
		return errors.New("release: --build-only builds; it cannot be combined with --skip-build or --dry-run")
	}
	if !o.SkipBuild && !o.DryRun {
		same, err := samePath(o.Dist, filepath.Join(o.Dir, "dist"))
		if err != nil || !same {
			return errors.New("release: --dist other than <dir>/dist needs --skip-build (GoReleaser writes <dir>/dist)")
		}
	}
	return nil
}

func samePath(a, b string) (bool, error) {
	aa, err := filepath.Abs(a)
	if err != nil {
		return false, err
	}
	bb, err := filepath.Abs(b)
	return aa == bb, err
}

// run is the state the steps share.
type run struct {
	opts    Options
	log     *slog.Logger
	dist    *Dist
	plans   []*ProductPlan
	signers []signing.Backend
	kinds   []string
	report  *Report
	// external: publishing prebuilt files (PublishFiles), not a dist/.
	external bool
	// done: this commit is already published (publishedStep); the other
	// steps have nothing to do.
	done bool
	// cores bounds the CPU-bound work of the steps that run side by side
	// (one slot per core): see cpu.
	coresOnce sync.Once
	cores     chan struct{}
}

// cpu waits for a core for one piece of CPU-bound work (an MSI, a macOS
// archive, decrypting the keys) and returns its release. The steps that
// run side by side share the cores: the keys' single-threaded decryption
// then keeps a core to itself instead of getting a fifth of two cores and
// finishing last, alone, after the installers.
func (r *run) cpu(ctx context.Context) (func(), error) {
	r.coresOnce.Do(func() { r.cores = make(chan struct{}, runtime.GOMAXPROCS(0)) })
	select {
	case r.cores <- struct{}{}:
		return func() { <-r.cores }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// errAlreadyPublished is the skip of steps with nothing to do because the
// commit is already published.
var errAlreadyPublished = Skip{Reason: "already published"}

func (r *run) now() time.Time { return r.opts.Now() }

func (r *run) printf(format string, args ...any) { fmt.Fprintf(r.opts.Out, format, args...) }

// Run builds (with GoReleaser), signs and publishes a release, and returns
// the report. On failure the report so far is returned with the error.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	r := &run{opts: opts, log: opts.Logger, signers: opts.Signers, report: &Report{Snapshot: opts.Snapshot, DryRun: opts.DryRun}}
	steps := []Step{
		publishedStep{},  // this commit already published? then nothing to build
		goreleaserStep{}, // find GoReleaser, or build the pinned version once
		buildStep{},      // goreleaser release --clean (--snapshot): binaries, archives, checksums
		distStep{},       // read and cross-check dist/metadata.json, artifacts.json, checksums
		sideBySide{ // these three only read the build: run them at the same time
			keysStep{},  // load the artifact signers (dev keys for snapshots)
			msiStep{},   // Windows MSI installers (wixl), Authenticode-signed
			macosStep{}, // desktop Slipway.app (signed bundle), agent launchd archives and .pkg
		},
		imageStep{},     // --image: server binaries and the OCI image layout archive
		attestStep{},    // SPDX SBOM per archive/package, signed SLSA provenance per product
		checkStep{},     // compare with what is already published; refuse conflicts
		imagePushStep{}, // --image-repo: push the image and cosign-sign its digest
		signStep{},      // sign every archive and the checksums file not yet published
		publishStep{},   // upload artifacts and signatures, then release.json last
	}
	if opts.BuildOnly {
		// The server binaries and the image layout are built too (they
		// need no release key): a later --skip-build --image run reuses them.
		steps = []Step{goreleaserStep{}, buildStep{}, distStep{}, imageStep{}}
	}
	r.printf("slipway release: %s\n", r.describe())
	err := runSteps(ctx, r, steps)
	r.report.fill(ctx, r)
	r.report.WriteText(r.opts.Out)
	return r.report, err
}

func (r *run) describe() string {
	var parts []string
	switch {
	case r.opts.Snapshot:
		parts = append(parts, "snapshot")
	case r.opts.Version != "":
		parts = append(parts, "version "+r.opts.Version)
	default:
		parts = append(parts, "version from git tag")
	}
	if r.opts.DryRun {
		parts = append(parts, "dry run")
	}
	if r.opts.SkipBuild {
		parts = append(parts, "existing "+r.opts.Dist)
	}
	if r.opts.BuildOnly {
		return strings.Join(append(parts, "build only"), ", ")
	}
	parts = append(parts, "store "+storeName(r.opts.Store))
	return strings.Join(parts, ", ")
}

func storeName(s storage.Store) string {
	if st, ok := s.(fmt.Stringer); ok {
		return st.String()
	}
	return fmt.Sprintf("%T", s)
}

// distStep reads dist/ and plans what to publish.
type distStep struct{}

func (distStep) Name() string { return "dist" }

func (distStep) Run(ctx context.Context, r *run) error {
	if r.done {
		return errAlreadyPublished
	}
	if _, err := os.Stat(filepath.Join(r.opts.Dist, "artifacts.json")); r.opts.DryRun && errors.Is(err, os.ErrNotExist) {
		return skip("no %s to plan from (build first, or run without --dry-run)", r.opts.Dist)
	}
	d, err := ReadDist(r.opts.Dist)
	if err != nil {
		return err
	}
	if want := strings.TrimPrefix(r.opts.Version, "v"); want != "" && d.Metadata.Version != want {
		return fmt.Errorf("%w: dist holds version %s, not %s", ErrBadDist, d.Metadata.Version, want)
	}
	r.dist = d
	r.report.Version, r.report.Commit = d.Metadata.Version, d.Metadata.Commit
	return nil
}
