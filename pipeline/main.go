// The Slipway release pipeline as a Dagger module.
//
// It is deliberately thin: every function builds the `slipway` CLI in a Go
// container and runs the same command a user runs natively (`slipway release`,
// `slipway apply`, scripts/test.sh). The logic lives in the project's Go code,
// which is tested natively; this module only wires containers, caches and
// secrets. See docs/pipeline.md.
package main

import (
	"context"

	"dagger/slipway/internal/dagger"
)

// DefaultGoImage is the Go toolchain image, pinned by digest. It must carry
// the Go version the root go.mod asks for (or newer).
const DefaultGoImage = "golang:1.26.8-bookworm@sha256:a688600ca24f8a4d3ca77f95b0dd40704a9fc787c826660eb7ba0b641b8b175d"

// Paths inside the build container.
const (
	srcDir     = "/src"
	slipwayBin = "/usr/local/bin/slipway"
	secretsDir = "/run/secrets/slipway"
	modCache   = "/go/pkg/mod"
	buildCache = "/root/.cache/go-build"
	toolCache  = "/root/.cache/slipway"
)

// Slipway builds, tests and releases the Slipway project.
type Slipway struct {
	// Project source (the repository root)
	Source *dagger.Directory
	// Go toolchain image
	GoImage string
	// GOPROXY inside the container
	Goproxy string
	// GOFLAGS inside the container
	Goflags string
}

// New configures the pipeline.
func New(
	// Project source; by default the repository this module lives in.
	// +defaultPath="/"
	// +ignore=["dist", "data", "bin", ".slipway", "**/node_modules", "**/*.test", "**/*.out"]
	source *dagger.Directory,
	// Go toolchain image; pin it by digest. Use your registry mirror if
	// Docker Hub is not reachable.
	// +optional
	// +default="golang:1.26.8-bookworm@sha256:a688600ca24f8a4d3ca77f95b0dd40704a9fc787c826660eb7ba0b641b8b175d"
	goImage string,
	// GOPROXY for module downloads, e.g. your company's module mirror, or
	// "off" with goflags "-mod=vendor" for a fully offline build.
	// +optional
	// +default="https://proxy.golang.org,direct"
	goproxy string,
	// GOFLAGS, e.g. "-mod=vendor".
	// +optional
	goflags string,
) *Slipway {
	if goImage == "" {
		goImage = DefaultGoImage
	}
	if goproxy == "" {
		goproxy = "https://proxy.golang.org,direct"
	}
	return &Slipway{Source: source, GoImage: goImage, Goproxy: goproxy, Goflags: goflags}
}

// Container returns the Go build environment with the source at /src, the
// module and build caches mounted, and the slipway CLI installed.
func (m *Slipway) Container() *dagger.Container {
	return m.env()
}

// env is Container with extra Debian packages, installed before the source
// is copied in so that a source change does not repeat the install.
func (m *Slipway) env(debianPackages ...string) *dagger.Container {
	ctr := dag.Container().From(m.GoImage)
	if len(debianPackages) > 0 {
		ctr = ctr.WithExec(append([]string{"sh", "-c",
			`apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" >/dev/null`, "apt-get"},
			debianPackages...))
	}
	ctr = ctr.
		WithMountedCache(modCache, dag.CacheVolume("slipway-go-mod")).
		WithMountedCache(buildCache, dag.CacheVolume("slipway-go-build")).
		WithMountedCache(toolCache, dag.CacheVolume("slipway-tools")).
		WithEnvVariable("GOMODCACHE", modCache).
		WithEnvVariable("GOCACHE", buildCache).
		WithEnvVariable("SLIPWAY_CACHE", toolCache).
		WithEnvVariable("GOPROXY", m.Goproxy).
		WithEnvVariable("CGO_ENABLED", "0")
	if m.Goflags != "" {
		ctr = ctr.WithEnvVariable("GOFLAGS", m.Goflags)
	}
	return ctr.
		WithDirectory(srcDir, m.Source).
		WithWorkdir(srcDir).
		WithExec([]string{"go", "build", "-trimpath", "-o", slipwayBin, "./cmd/slipway"}).
		WithEnvVariable("SLIPWAY_BIN", slipwayBin)
}

// Build makes a snapshot release (unreleased version of the current commit,
// signed with throw-away dev keys) into a local store inside the container
// and returns GoReleaser's dist directory.
func (m *Slipway) Build() *dagger.Directory {
	return m.Container().
		WithExec([]string{"slipway", "release", "--snapshot", "--store", "/tmp/artifacts"}).
		Directory(srcDir + "/dist")
}

// Test runs the project's test command (scripts/test.sh: tools, gofmt, vet,
// staticcheck, go test -race) and returns its output.
func (m *Slipway) Test(ctx context.Context) (string, error) {
	// scripts/tools.sh installs the Debian packages and Go tools itself;
	// the Go image lacks only npm (for the Tauri CLI).
	return m.env("npm").
		WithEnvVariable("CI", "true").
		WithExec([]string{"bash", "scripts/test.sh"}).
		Stdout(ctx)
}
