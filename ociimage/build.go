// Package ociimage builds the Slipway server's multi-arch OCI image without
// Docker: the static `slipway` binary of each platform on an empty base with
// a passwd entry for the non-root user, assembled with go-containerregistry,
// pushed to a registry and signed in cosign's image signature format.
package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Image layout and identity.
const (
	// BinaryPath is the server binary inside the image (the entrypoint).
	BinaryPath = "/usr/local/bin/slipway"
	// DataDir is the server's data directory (SLIPWAY_DATA), owned by UID.
	DataDir = "/data"
	// UID and GID of the non-root user "nonroot" the server runs as (the
	// distroless convention, and what deploy/helm's securityContext uses).
	UID = 65532
	GID = 65532
	// Port the server listens on (SLIPWAY_ADDR=:8080).
	Port = 8080
	// maxBinary bounds a binary read into a layer.
	maxBinary = 512 << 20
)

// Options describe the image.
type Options struct {
	// Binaries maps a platform ("linux/amd64", "linux/arm64") to the
	// static slipway binary built for it. Required.
	Binaries map[string]string
	// Version (SemVer) and Commit label the image.
	Version, Commit string
	// Created is the image's creation time and every file's mtime; use the
	// commit time so that two builds of a commit are identical.
	Created time.Time
	// Source is the org.opencontainers.image.source label.
	Source string
	// CACerts, when set, is a PEM bundle installed as
	// /etc/ssl/certs/ca-certificates.crt (for S3 and PostgreSQL over TLS).
	CACerts []byte
}

// Build returns the image index: one image per platform.
func Build(o Options) (v1.ImageIndex, error) {
	if len(o.Binaries) == 0 {
		return nil, errors.New("ociimage: no binaries")
	}
	platforms := make([]string, 0, len(o.Binaries))
	for p := range o.Binaries {
		platforms = append(platforms, p)
	}
	sort.Strings(platforms)
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		plat, err := v1.ParsePlatform(p)
		if err != nil || plat.OS != "linux" || (plat.Architecture != "amd64" && plat.Architecture != "arm64") {
			return nil, fmt.Errorf("ociimage: unsupported platform %q (want linux/amd64 or linux/arm64)", p)
		}
		img, err := platformImage(o, plat, o.Binaries[p])
		if err != nil {
			return nil, fmt.Errorf("ociimage: %s: %w", p, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: plat}})
	}
	return idx, nil
}

func platformImage(o Options, plat *v1.Platform, binary string) (v1.Image, error) {
	bin, err := readBinary(binary)
	if err != nil {
		return nil, err
	}
	layer, err := rootLayer(o, bin)
	if err != nil {
		return nil, err
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = plat.OS, plat.Architecture, plat.Variant
	cf.Created = v1.Time{Time: o.Created.UTC()}
	cf.Author = "Slipway"
	cf.Config = v1.Config{
		User:         fmt.Sprintf("%d:%d", UID, GID),
		Entrypoint:   []string{BinaryPath},
		Cmd:          []string{"server"},
		WorkingDir:   DataDir,
		Env:          []string{"SLIPWAY_ADDR=:8080", "SLIPWAY_DATA=" + DataDir, "PATH=/usr/local/bin"},
		ExposedPorts: map[string]struct{}{fmt.Sprintf("%d/tcp", Port): {}},
		Volumes:      map[string]struct{}{DataDir: {}},
		Labels:       Labels(o),
	}
	return mutate.ConfigFile(img, cf)
}

// Labels are the OCI annotations the image config carries.
func Labels(o Options) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":    "slipway",
		"org.opencontainers.image.version":  o.Version,
		"org.opencontainers.image.revision": o.Commit,
		"org.opencontainers.image.created":  o.Created.UTC().Format(time.RFC3339),
		"org.opencontainers.image.source":   o.Source,
	}
}

func readBinary(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxBinary+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBinary {
		return nil, fmt.Errorf("%s is over %d bytes", path, maxBinary)
	}
	return b, nil
}

// rootLayer is the whole root filesystem: directories, the passwd and group
// entries of root and nonroot, the CA bundle and the binary, with fixed
// owners and times (gzip without a name or time: reproducible).
func rootLayer(o Options, bin []byte) (v1.Layer, error) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	mt := o.Created.UTC()
	dir := func(name string, mode int64, uid int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: uid, Gid: uid, ModTime: mt, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: mt, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:%s:/sbin/nologin\n", UID, GID, DataDir)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", GID)
	steps := []func() error{
		func() error { return dir("etc", 0o755, 0) },
		func() error { return file("etc/passwd", 0o644, []byte(passwd)) },
		func() error { return file("etc/group", 0o644, []byte(group)) },
		func() error { return dir("etc/ssl", 0o755, 0) },
		func() error { return dir("etc/ssl/certs", 0o755, 0) },
		func() error {
			if len(o.CACerts) == 0 {
				return nil
			}
			return file("etc/ssl/certs/ca-certificates.crt", 0o644, o.CACerts)
		},
		func() error { return dir("tmp", 0o1777, 0) },
		func() error { return dir(DataDir[1:], 0o700, UID) },
		func() error { return dir("usr", 0o755, 0) },
		func() error { return dir("usr/local", 0o755, 0) },
		func() error { return dir("usr/local/bin", 0o755, 0) },
		func() error { return file(BinaryPath[1:], 0o755, bin) },
		tw.Close,
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, err
		}
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	data := gz.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer))
}
