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

// DefaultGoToolchain is the Go the binaries are built with (GOTOOLCHAIN in
// the container, as in scripts/test.sh): the image's go command fetches it
// from GOPROXY (module golang.org/toolchain) into the module cache volume on
// first use. "local" uses the image's own Go.
const DefaultGoToolchain = "go1.27.3"

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
	// GOTOOLCHAIN inside the container
	GoToolchain string
	// GOSUMDB inside the container; empty: the image's
	Gosumdb string
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
	// GOTOOLCHAIN: the Go that builds and tests, fetched through goproxy
	// into the module cache; "local" for the image's own Go (with goproxy
	// "off", give an image that has go1.27.3 and "local").
	// +optional
	// +default="go1.27.3"
	goToolchain string,
	// GOSUMDB, e.g. "sum.golang.org https://goproxy.corp/sumdb/sum.golang.org"
	// for a mirror that also serves the checksum database. The go command
	// verifies a downloaded toolchain against it even when GOSUMDB=off, so
	// an image or proxy without it needs this, or goToolchain "local".
	// +optional
	gosumdb string,
) *Slipway {
	if goImage == "" {
		goImage = DefaultGoImage
	}
	if goproxy == "" {
		goproxy = "https://proxy.golang.org,direct"
	}
	if goToolchain == "" {
		goToolchain = DefaultGoToolchain
	}
	return &Slipway{Source: source, GoImage: goImage, Goproxy: goproxy, Goflags: goflags, GoToolchain: goToolchain, Gosumdb: gosumdb}
}

// Container returns the Go build environment with the source at /src, the
// module and build caches mounted, and the slipway CLI installed.
func (m *Slipway) Container() *dagger.Container {
	return m.env()
}

// env is Container with extra Debian packages, installed before the source
// is copied in so that a source change does not repeat the install. apt's
// package lists and downloaded archives live in cache volumes, so a
// re-install (new image, pruned engine cache) needs no network when the
// cached lists still name the packages; only then is `apt-get update` run.
func (m *Slipway) env(debianPackages ...string) *dagger.Container {
	ctr := dag.Container().From(m.GoImage)
	if len(debianPackages) > 0 {
		locked := dagger.ContainerWithMountedCacheOpts{Sharing: dagger.CacheSharingModeLocked}
		ctr = ctr.
			WithMountedCache(aptLists, dag.CacheVolume("slipway-apt-lists"), locked).
			WithMountedCache(aptArchives, dag.CacheVolume("slipway-apt-archives"), locked).
			WithExec(append([]string{"sh", "-c", aptInstall, "apt-get"}, debianPackages...)).
			WithoutMount(aptLists).
			WithoutMount(aptArchives)
	}
	ctr = ctr.
		WithMountedCache(modCache, dag.CacheVolume("slipway-go-mod")).
		WithMountedCache(buildCache, dag.CacheVolume("slipway-go-build")).
		WithMountedCache(toolCache, dag.CacheVolume("slipway-tools")).
		WithEnvVariable("GOMODCACHE", modCache).
		WithEnvVariable("GOCACHE", buildCache).
		WithEnvVariable("SLIPWAY_CACHE", toolCache).
		WithEnvVariable("GOPROXY", m.Goproxy).
		WithEnvVariable("GOTOOLCHAIN", m.GoToolchain).
		WithEnvVariable("CGO_ENABLED", "0")
	if m.Goflags != "" {
		ctr = ctr.WithEnvVariable("GOFLAGS", m.Goflags)
	}
	if m.Gosumdb != "" {
		ctr = ctr.WithEnvVariable("GOSUMDB", m.Gosumdb)
	}
	return ctr.
		WithDirectory(srcDir, m.Source).
		WithWorkdir(srcDir).
		WithExec([]string{"go", "build", "-trimpath", "-o", slipwayBin, "./cmd/slipway"}).
		WithEnvVariable("SLIPWAY_BIN", slipwayBin)
}

// apt's cache directories, and the install script that uses them: Debian
// images delete downloaded packages after an install (docker-clean), which
// would empty the archives volume, so that rule is dropped first.
const (
	aptLists    = "/var/lib/apt/lists"
	aptArchives = "/var/cache/apt/archives"
	aptInstall  = `set -e
rm -f /etc/apt/apt.conf.d/docker-clean
echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' >/etc/apt/apt.conf.d/keep-downloads
install() { apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
install "$@" 2>/dev/null || { apt-get update -qq && install "$@"; }`
)

// built is the container after GoReleaser ran (`slipway release
// --build-only`): binaries, archives and checksums in /src/dist, nothing
// signed with the artifact keys, nothing published. Its result is cached
// by the engine, keyed by the source, the image, the version and the
// binary code-signing inputs (Authenticode and macOS certificates, which
// GoReleaser's post-build hook uses), so publishing again after a failed
// upload does not rebuild. An empty version builds a snapshot. With image
// the server binaries and its OCI image layout are built too (cached with
// the rest; `slipway release --image`).
func (m *Slipway) built(version string, codesign []secret, image bool) *dagger.Container {
	base := m.Container()
	for _, s := range codesign {
		if s.file == "authenticode.p12" && s.value != nil {
			// `slipway sign-binary` signs Windows binaries with osslsigncode.
			base = m.env("osslsigncode")
		}
	}
	args := []string{"slipway", "release", "--build-only"}
	if version == "" {
		args = append(args, "--snapshot")
	} else {
		args = append(args, "--version", version)
	}
	if image {
		args = append(args, "--image")
	}
	return withSecrets(base, codesign).WithExec(args)
}

// Build makes a snapshot release (unreleased version of the current commit)
// and signs it with throw-away dev keys into a local store. It returns a
// directory with GoReleaser's dist/ (signatures beside the archives), the
// signed release as it would be published (releases/<product>/<version>/:
// archives, .minisig, .sig, .cosign.sig, .sigstore.json, release.json), the
// report (report.json) and the dev public keys that verify the signatures
// (keys/cosign.pub, keys/minisign.pub). Cached: an unchanged source is
// answered from the engine's cache.
func (m *Slipway) Build() *dagger.Directory {
	const store = "/tmp/artifacts"
	signed := m.built("", nil, false).
		WithExec([]string{"slipway", "release", "--snapshot", "--skip-build", "--store", store, "--report-file", "/tmp/report.json"})
	return signed.Directory(store).
		WithDirectory("dist", signed.Directory(srcDir+"/dist")).
		WithFile("report.json", signed.File("/tmp/report.json")).
		WithFile("keys/cosign.pub", signed.File(srcDir+"/data/keys/cosign.pub")).
		WithFile("keys/minisign.pub", signed.File(srcDir+"/data/keys/minisign.pub"))
}

// testPackages are the Debian packages scripts/tools.sh installs (its
// apt_pkgs lines; internal/pipelinecheck compares the lists) plus npm for
// the Tauri CLI. Installed before the source is copied in, from the apt
// cache volumes, so that tools.sh finds them and runs no apt-get.
var testPackages = []string{"npm", "minisign", "osslsigncode", "wixl", "chromium", "wrk", "nginx-light",
	"prometheus-node-exporter", "rpm", "msitools", "systemd-container", "debootstrap", "libarchive-tools", "postgresql-15"}

// Test runs the project's test command (scripts/test.sh: tools, gofmt, vet,
// staticcheck, go test -race) and returns its output.
func (m *Slipway) Test(ctx context.Context) (string, error) {
	return m.env(testPackages...).
		WithEnvVariable("CI", "true").
		WithExec([]string{"bash", "scripts/test.sh"}).
		Stdout(ctx)
}
