package main

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"dagger/slipway/internal/dagger"
)

// s3Target says where releases are published. Credentials are secrets,
// passed separately.
type s3Target struct {
	endpoint, bucket, region, prefix string
	pathStyle, insecure              bool
}

// spec renders the storage spec `slipway` understands (see docs/storage.md).
// It never contains credentials.
func (t s3Target) spec() (string, error) {
	if t.bucket == "" {
		return "", errors.New("s3 bucket is required")
	}
	q := url.Values{}
	if t.endpoint != "" {
		q.Set("endpoint", t.endpoint)
	}
	if t.region != "" {
		q.Set("region", t.region)
	}
	if t.pathStyle {
		q.Set("path-style", "true")
	}
	if t.insecure {
		q.Set("insecure", "true")
	}
	u := url.URL{Scheme: "s3", Host: t.bucket, RawQuery: q.Encode()}
	if t.prefix != "" {
		u.Path = "/" + t.prefix
	}
	return u.String(), nil
}

// secret is one secret handed to `slipway`: a file mounted at
// /run/secrets/slipway/<file> (mode 0400) whose path goes into env, or, with
// no file, a secret variable env. A nil value is skipped (optional secrets).
type secret struct {
	env, file string
	value     *dagger.Secret
}

// withSecrets adds the secrets to the container. Secret variables are
// scrubbed from logs and left out of the container's recorded environment;
// only the paths of mounted key files are plain variables.
func withSecrets(ctr *dagger.Container, secrets []secret) *dagger.Container {
	for _, s := range secrets {
		switch {
		case s.value == nil:
		case s.file != "":
			path := secretsDir + "/" + s.file
			ctr = ctr.WithMountedSecret(path, s.value).WithEnvVariable(s.env, path)
		default:
			ctr = ctr.WithSecretVariable(s.env, s.value)
		}
	}
	return ctr
}

// fresh makes the next exec run every time: publishing must not be served
// from Dagger's cache. The functions that publish are themselves marked
// +cache="never", so this runs (and changes) on every call; without the
// variable the engine would still answer the exec from its layer cache.
func fresh(ctr *dagger.Container) *dagger.Container {
	return ctr.WithEnvVariable("SLIPWAY_PIPELINE_RUN", strconv.FormatInt(time.Now().UnixNano(), 10))
}

// Where Release leaves its outputs in the container.
const (
	reportJSON = "/tmp/slipway-report.json"
	dryRunDir  = "/tmp/dry-run-artifacts"
)

// Release publishes a version to S3. The build (GoReleaser's twelve
// binaries and their archives) is a cached step keyed by the source and the
// version; signing with the artifact keys and publishing run on every call,
// so a retry after a failed upload signs and uploads without rebuilding,
// and a repeated release checks the bucket again (objects missing from a
// published release are uploaded again; different bytes are refused).
//
// With --channel, the channels file is edited for the new version (`slipway
// promote`, which verifies the published release with --minisign-pub) and
// returned, with the plan it implies; nothing is applied. Channel changes
// reach storage only from git: commit the returned release/channels.yaml
// (the release workflow opens a pull request with it) and `promote`
// applies it after merge.
//
// Returns a directory: report.txt (the human report: steps with durations,
// per-target results, every published URL; then the channel plan),
// report.json (the same report as JSON), dist/ (GoReleaser's output with
// the signatures), and with --channel release/channels.yaml.
//
// +cache="never"
func (m *Slipway) Release(
	ctx context.Context,
	// Version to publish, e.g. v1.4.0 (normally the pushed tag).
	version string,
	// Channel the version should be served on, e.g. beta: the returned
	// release/channels.yaml serves it there once committed and applied.
	// +optional
	channel string,
	// S3 endpoint host[:port]; empty for AWS S3.
	// +optional
	s3Endpoint string,
	// S3 bucket.
	s3Bucket string,
	// S3 region.
	// +optional
	// +default="us-east-1"
	s3Region string,
	// Key prefix inside the bucket.
	// +optional
	s3Prefix string,
	// Path-style addressing (MinIO and most self-hosted S3).
	// +optional
	s3PathStyle bool,
	// Plain HTTP to the S3 endpoint (test setups only).
	// +optional
	s3Insecure bool,
	// S3 access key id (AWS_ACCESS_KEY_ID).
	s3AccessKey *dagger.Secret,
	// S3 secret access key (AWS_SECRET_ACCESS_KEY).
	s3SecretKey *dagger.Secret,
	// cosign private key (encrypted PEM).
	cosignKey *dagger.Secret,
	// Password of the cosign key.
	cosignPassword *dagger.Secret,
	// minisign secret key (also signs Tauri .sig files).
	minisignKey *dagger.Secret,
	// Password of the minisign key.
	minisignPassword *dagger.Secret,
	// Authenticode certificate and key (PKCS#12) for Windows binaries.
	// +optional
	authenticodeP12 *dagger.Secret,
	// Password of the Authenticode PKCS#12.
	// +optional
	authenticodePassword *dagger.Secret,
	// Developer ID certificate and key (PKCS#12) for macOS binaries;
	// without it macOS binaries are signed ad hoc.
	// +optional
	macosP12 *dagger.Secret,
	// Password of the macOS PKCS#12.
	// +optional
	macosPassword *dagger.Secret,
	// minisign public key (minisign.pub) the published artifacts must verify
	// with before the channels file may serve them; needed with --channel.
	// +optional
	minisignPub *dagger.File,
	// Build and sign inside the container (into a throw-away local store),
	// then only show what would be uploaded; write nothing to S3.
	// +optional
	dryRun bool,
	// Also build the server (linux/amd64, linux/arm64) and its OCI image,
	// published as slipway-server_<version>_oci.tar (product "server").
	// +optional
	// +default=true
	image bool,
	// Push the image there under the version tag and cosign-sign it, e.g.
	// ghcr.io/slipwayhq/slipway; empty: the image is only published as the
	// OCI archive.
	// +optional
	imageRepo string,
	// Username for the image registry (with --registry-password).
	// +optional
	registryUsername string,
	// Password or token for the image registry, sent to imageRepo's
	// registry only.
	// +optional
	registryPassword *dagger.Secret,
	// Reach imageRepo over plain HTTP (a test registry).
	// +optional
	imageInsecureRegistry bool,
) (*dagger.Directory, error) {
	if version == "" {
		return nil, errors.New("version is required")
	}
	if channel != "" && minisignPub == nil {
		return nil, errors.New("--channel needs --minisign-pub (promote verifies the release)")
	}
	spec, err := s3Target{s3Endpoint, s3Bucket, s3Region, s3Prefix, s3PathStyle, s3Insecure}.spec()
	if err != nil {
		return nil, err
	}
	// Key files are mounted read-only under /run/secrets/slipway and named
	// by a *_KEY/*_P12 path variable; passwords and S3 keys are secret
	// variables. The names are the ones `slipway` reads (signing/keyring).
	// Binary code signing happens during the (cached) build; artifact
	// signing and S3 access only in the uncached publish.
	if imageRepo != "" && !image {
		return nil, errors.New("--image-repo needs --image")
	}
	if (registryUsername != "" || registryPassword != nil || imageInsecureRegistry) && imageRepo == "" {
		return nil, errors.New("--registry-username, --registry-password and --image-insecure-registry need --image-repo")
	}
	if (registryUsername == "") != (registryPassword == nil) {
		return nil, errors.New("--registry-username and --registry-password go together")
	}
	ctr := m.built(version, []secret{
		{env: "SLIPWAY_AUTHENTICODE_P12", file: "authenticode.p12", value: authenticodeP12},
		{env: "SLIPWAY_AUTHENTICODE_PASSWORD", value: authenticodePassword},
		{env: "SLIPWAY_MACOS_P12", file: "macos.p12", value: macosP12},
		{env: "SLIPWAY_MACOS_PASSWORD", value: macosPassword},
	}, image)
	ctr = withSecrets(ctr, []secret{
		{env: "AWS_ACCESS_KEY_ID", value: s3AccessKey},
		{env: "AWS_SECRET_ACCESS_KEY", value: s3SecretKey},
		{env: "SLIPWAY_COSIGN_KEY", file: "cosign.key", value: cosignKey},
		{env: "COSIGN_PASSWORD", value: cosignPassword},
		{env: "SLIPWAY_MINISIGN_KEY", file: "minisign.key", value: minisignKey},
		{env: "SLIPWAY_MINISIGN_PASSWORD", value: minisignPassword},
	})
	if registryUsername != "" {
		ctr = withSecrets(ctr.WithEnvVariable("SLIPWAY_REGISTRY_USERNAME", registryUsername),
			[]secret{{env: "SLIPWAY_REGISTRY_PASSWORD", value: registryPassword}})
	}
	ctr = withChannelInputs(ctr, nil, nil, minisignPub)
	ctr = fresh(ctr)
	publish := []string{"slipway", "release", "--version", version, "--skip-build", "--store", spec, "--report-file", reportJSON}
	var imageArgs []string
	if image {
		imageArgs = append(imageArgs, "--image")
	}
	if dryRun {
		// Sign into a throw-away local store (checks the keys and
		// passwords), then plan against S3 without writing (a dry run
		// pushes no image either).
		ctr = ctr.WithExec(append([]string{"slipway", "release", "--version", version, "--skip-build", "--store", dryRunDir}, imageArgs...))
		publish = append(publish, "--dry-run")
	}
	if imageRepo != "" {
		imageArgs = append(imageArgs, "--image-repo", imageRepo)
	}
	if imageInsecureRegistry {
		imageArgs = append(imageArgs, "--image-insecure-registry")
	}
	publish = append(publish, imageArgs...)
	ctr = ctr.WithExec(publish)
	report, err := ctr.Stdout(ctx)
	if err != nil {
		return nil, err
	}
	out := dag.Directory().
		WithFile("report.json", ctr.File(reportJSON)).
		WithDirectory("dist", ctr.Directory(srcDir+"/dist"))
	if channel != "" {
		plan, channels, err := proposeChannel(ctx, ctr, spec, version, channel, dryRun)
		if err != nil {
			return nil, err
		}
		report += "\n" + plan
		if channels != nil {
			out = out.WithFile(channelsFile, channels)
		}
	}
	return out.WithNewFile("report.txt", report), nil
}

// proposeChannel edits the channels file in the container so that channel
// serves version for every product (`slipway promote` verifies the
// published release first) and returns the plan that applying it would
// carry out, and the edited file. Nothing is applied. A dry run published
// nothing to verify, so it only says what would be proposed.
func proposeChannel(ctx context.Context, ctr *dagger.Container, spec, version, channel string, dryRun bool) (string, *dagger.File, error) {
	bare := strings.TrimPrefix(version, "v")
	if dryRun {
		return "dry run: " + channelsFile + " would then serve " + bare + " on " + channel + "\n", nil, nil
	}
	for _, product := range products {
		ctr = ctr.WithExec(append([]string{"slipway", "promote", product, bare, "--to", channel}, channelFlags(spec)...))
	}
	ctr = ctr.WithExec(append([]string{"slipway", "plan"}, channelFlags(spec)...))
	plan, err := ctr.Stdout(ctx)
	if err != nil {
		return "", nil, err
	}
	msg := "Proposed change to " + channelsFile + " (returned; commit it, `promote` applies it):\n" + plan
	return msg, ctr.File(srcDir + "/" + channelsFile), nil
}

// products are the programs `slipway release` publishes (docs: contracts).
var products = []string{"agent", "desktop"}

// Where the channel commands find their inputs in the container.
const (
	channelsFile    = "release/channels.yaml" // the source of truth for what each channel serves
	tufKeysDir      = secretsDir + "/tuf"
	minisignPubPath = "/run/slipway/minisign.pub"
)

// channelFlags are the flags of `slipway promote|plan|apply` here.
func channelFlags(spec string) []string {
	return []string{"--channels", channelsFile, "--store", spec, "--keys", tufKeysDir, "--minisign-pub", minisignPubPath}
}

// withChannelInputs mounts the TUF signing keys (secrets) into one keys
// directory with the file names `slipway apply` reads (updater/repo), and
// the minisign public key. Nil inputs are skipped.
func withChannelInputs(ctr *dagger.Container, targets, online *dagger.Secret, minisignPub *dagger.File) *dagger.Container {
	if targets != nil {
		ctr = ctr.WithMountedSecret(tufKeysDir+"/tuf-targets.key", targets)
	}
	if online != nil {
		ctr = ctr.WithMountedSecret(tufKeysDir+"/tuf-online.key", online)
	}
	if minisignPub != nil {
		ctr = ctr.WithMountedFile(minisignPubPath, minisignPub)
	}
	return ctr
}

// Promote applies the channels file (release/channels.yaml) to S3: it
// verifies newly served releases, re-signs the TUF metadata and writes the
// channel state, and returns the plan it carried out. Applying an unchanged
// file writes nothing. Runs on every call (storage may have changed).
//
// +cache="never"
func (m *Slipway) Promote(
	ctx context.Context,
	// S3 endpoint host[:port]; empty for AWS S3.
	// +optional
	s3Endpoint string,
	// S3 bucket.
	s3Bucket string,
	// S3 region.
	// +optional
	// +default="us-east-1"
	s3Region string,
	// Key prefix inside the bucket.
	// +optional
	s3Prefix string,
	// Path-style addressing (MinIO and most self-hosted S3).
	// +optional
	s3PathStyle bool,
	// Plain HTTP to the S3 endpoint (test setups only).
	// +optional
	s3Insecure bool,
	// S3 access key id.
	s3AccessKey *dagger.Secret,
	// S3 secret access key.
	s3SecretKey *dagger.Secret,
	// TUF targets key (not needed with --dry-run).
	// +optional
	tufTargetsKey *dagger.Secret,
	// TUF online (snapshot/timestamp) key (not needed with --dry-run).
	// +optional
	tufOnlineKey *dagger.Secret,
	// minisign public key (minisign.pub) that newly served releases must
	// verify with.
	minisignPub *dagger.File,
	// Only show what would change.
	// +optional
	dryRun bool,
) (string, error) {
	spec, err := s3Target{s3Endpoint, s3Bucket, s3Region, s3Prefix, s3PathStyle, s3Insecure}.spec()
	if err != nil {
		return "", err
	}
	ctr := withSecrets(m.Container(), []secret{
		{env: "AWS_ACCESS_KEY_ID", value: s3AccessKey},
		{env: "AWS_SECRET_ACCESS_KEY", value: s3SecretKey},
	})
	ctr = withChannelInputs(ctr, tufTargetsKey, tufOnlineKey, minisignPub)
	verb := "apply"
	if dryRun {
		verb = "plan"
	}
	return fresh(ctr).WithExec(append([]string{"slipway", verb}, channelFlags(spec)...)).Stdout(ctx)
}
