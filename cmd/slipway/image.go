package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"

	"github.com/slipwayhq/slipway/ociimage"
	"github.com/slipwayhq/slipway/signing/cosign"
	"github.com/slipwayhq/slipway/signing/keyring"
)

func init() { register(newImageCmd) }

func newImageCmd() *cobra.Command {
	var (
		bins            []string
		repo, version   string
		commit, created string
		tags            []string
		snapshotKeysDir string
		caFile          string
		insecure        bool
	)
	cmd := &cobra.Command{
		Use:   "image --binary linux/amd64=PATH --binary linux/arm64=PATH --repo REGISTRY/NAME --version V",
		Short: "Build, push and cosign-sign the server's multi-arch OCI image (no Docker)",
		Long: `Builds the server image from static slipway binaries (CGO_ENABLED=0), one
per platform: an empty base with /etc/passwd for the non-root user 65532,
/data owned by it, the binary as /usr/local/bin/slipway (entrypoint, command
"server"), OCI labels for version and revision. Pushes it under the version
tag (and --tag), signs the digest with the release cosign key
(SLIPWAY_COSIGN_KEY, or the dev key with --dev-keys) and prints the digest
reference: verify with cosign verify --key cosign.pub REF.

Registry credentials come from the Docker config (~/.docker/config.json).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := ociimage.Options{Binaries: map[string]string{}, Version: strings.TrimPrefix(version, "v"), Commit: commit,
				Source: "https://github.com/slipwayhq/slipway"}
			for _, b := range bins {
				plat, path, ok := strings.Cut(b, "=")
				if !ok {
					return fmt.Errorf("--binary %q: want PLATFORM=PATH", b)
				}
				o.Binaries[plat] = path
			}
			o.Created = time.Now().UTC().Truncate(time.Second)
			if created != "" {
				t, err := time.Parse(time.RFC3339, created)
				if err != nil {
					return fmt.Errorf("--created: %w", err)
				}
				o.Created = t
			}
			if caFile != "" {
				b, err := os.ReadFile(caFile)
				if err != nil {
					return err
				}
				o.CACerts = b
			}
			cfg := keyring.FromEnv()
			if snapshotKeysDir != "" {
				var err error
				if cfg, err = keyring.EnsureDevKeys(snapshotKeysDir); err != nil {
					return err
				}
			}
			signers, err := cfg.ArtifactSigners()
			if err != nil {
				return err
			}
			var signer *cosign.Signer
			for _, s := range signers {
				if c, ok := s.(*cosign.Signer); ok {
					signer = c
				}
			}
			if signer == nil {
				return errors.New("no cosign key configured (SLIPWAY_COSIGN_KEY)")
			}
			idx, err := ociimage.Build(o)
			if err != nil {
				return err
			}
			opts := []remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain)}
			var nameOpts []name.Option
			if insecure {
				nameOpts = append(nameOpts, ociimage.Insecure)
			}
			pushed, err := ociimage.Push(cmd.Context(), idx, repo, append([]string{o.Version}, tags...), nameOpts, opts...)
			if err != nil {
				return err
			}
			if err := ociimage.Sign(cmd.Context(), pushed.Digest, signer, opts...); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), pushed.Digest.String())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&bins, "binary", nil, "PLATFORM=PATH of a static slipway binary (linux/amd64, linux/arm64); repeat")
	f.StringVar(&repo, "repo", "", "image repository, e.g. registry.example.com/slipway/slipway")
	f.StringVar(&version, "version", "", "version (tag and label)")
	f.StringVar(&commit, "commit", "", "git commit (label)")
	f.StringVar(&created, "created", "", "creation time, RFC 3339 (default now; use the commit time for reproducible images)")
	f.StringArrayVar(&tags, "tag", nil, "extra tag; repeat")
	f.StringVar(&snapshotKeysDir, "dev-keys", "", "sign with the dev keys in this directory (snapshots), e.g. data/keys")
	f.StringVar(&caFile, "ca-certs", "", "PEM bundle to install as /etc/ssl/certs/ca-certificates.crt (e.g. /etc/ssl/certs/ca-certificates.crt)")
	f.BoolVar(&insecure, "insecure-registry", false, "reach the registry over plain HTTP (a local test registry)")
	for _, req := range []string{"binary", "repo", "version"} {
		_ = cmd.MarkFlagRequired(req)
	}
	return cmd
}
