package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/slipwayhq/slipway/release"
	"github.com/slipwayhq/slipway/storage"
)

func init() { register(newReleaseCmd) }

func newReleaseCmd() *cobra.Command {
	var (
		o        release.Options
		store    string
		jsonOut  bool
		jsonFile string
		external release.ExternalOptions
	)
	cmd := &cobra.Command{
		Use:   "release",
		Short: "Build, sign and publish the agent and desktop client (GoReleaser + cosign + minisign)",
		Long: `Runs GoReleaser with .goreleaser.yaml (slipway-agent and slipway-desktop for
linux, darwin and windows on amd64 and arm64), signs every archive and the
checksums file with cosign and minisign, and publishes them to the store under
releases/<product>/<version>/, release.json last.

Re-running the same version with identical bytes changes nothing; different
bytes for a published version are refused; an interrupted publish is resumed
by running the command again.

With --files, publishes prebuilt artifacts of another product instead (for
example Tauri bundles with their existing .sig files). OS, arch and bundle type
come from Tauri's file names (MyApp_1.2.3_amd64.AppImage, MyApp-1.2.3-1.aarch64.rpm,
MyApp_1.2.3_arm64-setup.exe, MyApp_universal.app.tar.gz...); for a name that does
not say its arch (Tauri's MyApp.app.tar.gz) prefix the value with the target,
TARGET=PATH, e.g. darwin-aarch64=, darwin-x86_64= or darwin-universal= (served to
both Mac architectures); the file is then published as MyApp_aarch64.app.tar.gz.`,
		Example: `  slipway release --snapshot                      # dev keys, local store ./data/artifacts
  slipway release --version v1.4.0 --store 's3://bucket/prefix?endpoint=s3.example.com'
  slipway release --snapshot --dry-run --skip-build # show the plan for an existing dist/
  slipway release --product myapp --version 1.2.3 --files 'bundles/*'
  slipway release --product myapp --version 1.2.3 --files 'bundles/*' \
      --files darwin-universal=macos/MyApp.app.tar.gz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if store == "" {
				store = filepath.Join(o.DataDir, "artifacts")
			}
			st, err := storage.Open(ctx, store)
			if err != nil {
				return err
			}
			level := slog.LevelWarn
			if o.Verbose {
				level = slog.LevelDebug
			}
			o.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			o.Out = cmd.OutOrStdout()
			o.Store = st
			// Registry credentials only from the environment: a password on
			// the command line would show in ps and shell history.
			o.RegistryUsername, o.RegistryPassword = os.Getenv("SLIPWAY_REGISTRY_USERNAME"), os.Getenv("SLIPWAY_REGISTRY_PASSWORD")
			var rep *release.Report
			if len(external.Files) > 0 || external.Product != "" {
				external.Options = o
				rep, err = release.PublishFiles(ctx, external)
			} else {
				if o.SlipwayBin == "" && os.Getenv("SLIPWAY_BIN") == "" {
					o.SlipwayBin, _ = os.Executable()
				}
				rep, err = release.Run(ctx, o)
			}
			if jsonOut && rep != nil {
				if jerr := writeJSON(cmd.OutOrStdout(), rep); jerr != nil && err == nil {
					err = jerr
				}
			}
			if jsonFile != "" && rep != nil {
				// Written on failure too: the report shows how far it got.
				if jerr := writeJSONFile(jsonFile, rep); jerr != nil && err == nil {
					err = jerr
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Version, "version", "", "version to release, e.g. v1.4.0 (default: the git tag at HEAD)")
	f.BoolVar(&o.Snapshot, "snapshot", false, "build an unreleased version of this commit, signed with dev keys from <data>/keys")
	f.BoolVar(&o.DryRun, "dry-run", false, "show the plan (what would be signed and uploaded) without building or writing")
	f.BoolVar(&o.SkipBuild, "skip-build", false, "publish an existing dist/ instead of running GoReleaser")
	f.BoolVar(&o.SkipAttest, "skip-attest", false, "publish no SBOMs and no signed provenance")
	f.BoolVar(&o.Image, "image", false, "also build the server (linux/amd64, linux/arm64) and its OCI image, published as slipway-server_<v>_oci.tar (product \"server\")")
	f.StringVar(&o.ImageRepo, "image-repo", "", "with --image: push the image there under the version tag and cosign-sign it, e.g. ghcr.io/slipwayhq/slipway (credentials: SLIPWAY_REGISTRY_USERNAME + SLIPWAY_REGISTRY_PASSWORD, else the Docker config)")
	f.BoolVar(&o.ImageInsecure, "image-insecure-registry", false, "reach --image-repo over plain HTTP (a local test registry)")
	f.StringVar(&store, "store", "", "where to publish: a directory, file:///path or s3://bucket/prefix?endpoint=host:port&region=r (default <data>/artifacts)")
	f.StringVar(&o.Prefix, "prefix", "", "key prefix inside the store")
	f.StringVar(&o.PublicURL, "public-url", "", "base URL the store is served under, for the report (default: store URLs, presigned for S3)")
	f.StringVar(&o.Dist, "dist", "", "GoReleaser dist directory (default <dir>/dist)")
	f.StringVar(&o.Dir, "dir", ".", "project directory with .goreleaser.yaml")
	f.StringVar(&o.DataDir, "data", "./data", "data directory (dev keys, default store)")
	f.StringVar(&o.GoReleaser, "goreleaser", "", "goreleaser binary (default: PATH, then the Slipway tool cache, else built once with go install)")
	f.BoolVarP(&o.Verbose, "verbose", "v", false, "show GoReleaser's output and debug logs")
	f.BoolVar(&jsonOut, "json", false, "also print the report as JSON")
	f.StringVar(&jsonFile, "report-file", "", "also write the report as JSON to this file")
	f.BoolVar(&o.BuildOnly, "build-only", false, "only run GoReleaser and check dist/ (no signing, no store); publish it later with --skip-build")
	f.StringVar(&external.Product, "product", "", "with --files: the product name of the prebuilt artifacts")
	f.StringSliceVar(&external.Files, "files", nil, "publish prebuilt files ([TARGET=]GLOB, TARGET like darwin-aarch64) as --product at --version instead of building")
	return cmd
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeJSONFile writes v as indented JSON to path (mode 0644: the report
// holds no secrets; presigned URLs carry the access key id and a signature,
// not the secret key).
func writeJSONFile(path string, v any) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := writeJSON(f, v); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
