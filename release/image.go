package release

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/slipwayhq/slipway/ociimage"
)

// The server image (--image): the slipway server built for linux/amd64
// and linux/arm64 (CGO off, -trimpath, the release's version and commit
// stamped), made into the multi-arch OCI image `slipway image` builds
// (ociimage: non-root, empty base), written as an OCI image layout in
// slipway-server_<version>_oci.tar (published in the "server" product's
// release.json with its SBOM and provenance), and with --image-repo
// pushed under the version tag and cosign-signed with the release key.
// GoReleaser does not build the server: its open-source image support
// (ko, dockers) needs a registry or a Docker daemon at build time, and
// the layout must be the one `slipway image` pushes.
const (
	typeImage     = "Slipway Image"
	serverProduct = "server"
	FormatOCI     = "oci"
	// serverPackage is built for the image.
	serverPackage = "./cmd/slipway"
)

var imagePlatforms = []string{"amd64", "arm64"}

func imageArtifact(d *Dist) DistArtifact {
	n := fmt.Sprintf("%s-%s_%s_oci.tar", d.Metadata.ProjectName, serverProduct, d.Metadata.Version)
	return DistArtifact{Name: n, Path: n, Type: typeImage, Extra: DistExtra{ID: serverProduct, Format: FormatOCI}}
}

// imageStep builds the server binaries and the image layout archive.
type imageStep struct{}

func (imageStep) Name() string { return "image" }

func (imageStep) Run(ctx context.Context, r *run) error {
	switch {
	case r.done:
		return errAlreadyPublished
	case !r.opts.Image:
		return skip("no --image")
	case r.external || r.dist == nil:
		return skip("no build")
	case r.opts.DryRun:
		return skip("dry run: the image is built with the release")
	}
	d := r.dist
	bins := map[string]string{}
	for _, arch := range imagePlatforms {
		dir := "server_linux_" + arch
		bin := filepath.Join(d.Dir, dir, "slipway")
		if _, err := os.Stat(bin); err != nil {
			if err := buildServer(ctx, r.opts.Dir, d, arch, bin); err != nil {
				return err
			}
		}
		bins["linux/"+arch] = bin
		d.Artifacts = append(d.Artifacts, DistArtifact{Name: "slipway", Path: filepath.Join("dist", dir, "slipway"),
			Goos: "linux", Goarch: arch, Type: "Binary", Extra: DistExtra{ID: serverProduct}})
	}
	a := imageArtifact(d)
	if _, err := os.Stat(filepath.Join(d.Dir, a.Name)); err != nil {
		if err := writeImageLayout(d, bins, filepath.Join(d.Dir, a.Name)); err != nil {
			return err
		}
	}
	d.Artifacts = append(d.Artifacts, a)
	return nil
}

// buildServer cross-compiles the server like GoReleaser builds the agent:
// static, -trimpath, version and commit stamped, mtime the commit time.
func buildServer(ctx context.Context, dir string, d *Dist, arch, out string) error {
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	ldflags := fmt.Sprintf("-s -w -X main.version=%s -X main.commit=%s", d.Metadata.Version, d.Metadata.Commit)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", ldflags, "-o", abs, serverPackage)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOFLAGS=-mod=readonly")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build the server for linux/%s: %w\n%s", arch, err, b)
	}
	when := commitTime(d)
	return os.Chtimes(abs, when, when)
}

// imageOptions describes the image of this release.
func imageOptions(d *Dist, bins map[string]string) ociimage.Options {
	return ociimage.Options{Binaries: bins, Version: d.Metadata.Version, Commit: d.Metadata.Commit,
		Created: commitTime(d), Source: "https://github.com/slipwayhq/slipway"}
}

// writeImageLayout writes the image index as an OCI image layout and
// archives it (plain tar: the layers are compressed already).
func writeImageLayout(d *Dist, bins map[string]string, out string) error {
	idx, err := ociimage.Build(imageOptions(d, bins))
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp(d.Dir, ".oci-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	p, err := layout.Write(work, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendIndex(idx); err != nil {
		return fmt.Errorf("write OCI layout: %w", err)
	}
	return writeTar(out, work, commitTime(d), false)
}

// readImageLayout opens the image index of a layout archive (extracted
// into a temporary directory that cleanup removes).
func readImageLayout(path string) (v1.ImageIndex, func(), error) {
	dir, err := os.MkdirTemp("", "slipway-oci-")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	if b, err := exec.Command("tar", "-xf", path, "-C", dir).CombinedOutput(); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("unpack %s: %w: %s", filepath.Base(path), err, b)
	}
	root, err := layout.ImageIndexFromPath(dir)
	if err == nil {
		var m *v1.IndexManifest
		if m, err = root.IndexManifest(); err == nil && len(m.Manifests) != 1 {
			err = fmt.Errorf("%d manifests in index.json, want the image index only", len(m.Manifests))
		}
		if err == nil {
			var idx v1.ImageIndex
			if idx, err = root.ImageIndex(m.Manifests[0].Digest); err == nil {
				return idx, cleanup, nil
			}
		}
	}
	cleanup()
	return nil, nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
}

// imagePushStep pushes the image to --image-repo under the version tag and
// signs its digest with the release cosign key. It runs after the check
// step, so a refused release pushes nothing.
type imagePushStep struct{}

func (imagePushStep) Name() string { return "push" }

func (imagePushStep) Run(ctx context.Context, r *run) error {
	switch {
	case r.done:
		return errAlreadyPublished
	case !r.opts.Image || r.dist == nil:
		return skip("no --image")
	case r.opts.ImageRepo == "":
		return skip("no --image-repo: the image is only in %s", imageArtifact(r.dist).Name)
	case r.opts.DryRun:
		return skip("dry run: would push to %s", r.opts.ImageRepo)
	}
	signer := cosignSigner(r.signers)
	if signer == nil {
		return errors.New("the image is signed with the release cosign key, and no cosign signer is configured")
	}
	idx, cleanup, err := readImageLayout(filepath.Join(r.dist.Dir, imageArtifact(r.dist).Name))
	if err != nil {
		return err
	}
	defer cleanup()
	var nameOpts []name.Option
	if r.opts.ImageInsecure {
		nameOpts = append(nameOpts, ociimage.Insecure)
	}
	repo := strings.TrimSuffix(r.opts.ImageRepo, "/")
	ref, err := name.NewRepository(repo, nameOpts...)
	if err != nil {
		return fmt.Errorf("image repository %q: %w", repo, err)
	}
	opts := []remote.Option{remote.WithAuthFromKeychain(registryKeychain(ref.Registry, r.opts))}
	pushed, err := ociimage.Push(ctx, idx, repo, []string{r.dist.Metadata.Version}, nameOpts, opts...)
	if err != nil {
		return registryAuthHint(err, r.opts)
	}
	if err := ociimage.Sign(ctx, pushed.Digest, signer, opts...); err != nil {
		return registryAuthHint(err, r.opts)
	}
	r.report.Image = &ImageReport{Tag: pushed.Tag.String(), Digest: pushed.Digest.String()}
	return nil
}

// registryKeychain authenticates with the release's registry credentials
// to that one registry (never sent elsewhere), and otherwise as the Docker
// config says.
func registryKeychain(reg name.Registry, o Options) authn.Keychain {
	if o.RegistryUsername == "" {
		return authn.DefaultKeychain
	}
	return authn.NewMultiKeychain(registryCredentials{
		registry: reg.RegistryStr(),
		auth:     authn.FromConfig(authn.AuthConfig{Username: o.RegistryUsername, Password: o.RegistryPassword}),
	}, authn.DefaultKeychain)
}

// registryAuthHint says what to do when the registry refused us.
func registryAuthHint(err error, o Options) error {
	var terr *transport.Error
	if !errors.As(err, &terr) || (terr.StatusCode != http.StatusUnauthorized && terr.StatusCode != http.StatusForbidden) {
		return err
	}
	if o.RegistryUsername == "" {
		return fmt.Errorf("%w (the registry wants credentials: set SLIPWAY_REGISTRY_USERNAME and SLIPWAY_REGISTRY_PASSWORD, or log in with a Docker config)", err)
	}
	return fmt.Errorf("%w (the registry refused SLIPWAY_REGISTRY_USERNAME %q and its password)", err, o.RegistryUsername)
}

type registryCredentials struct {
	registry string
	auth     authn.Authenticator
}

func (c registryCredentials) Resolve(res authn.Resource) (authn.Authenticator, error) {
	if res.RegistryStr() != c.registry {
		return authn.Anonymous, nil
	}
	return c.auth, nil
}
