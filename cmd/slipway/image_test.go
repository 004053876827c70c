package main

import (
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/signing/binfmt/binfmttest"
)

// TestImageCommand pushes an image of two small stand-in binaries to a
// registry on 127.0.0.1 and finds the index and its cosign signature
// there (ociimage's tests run the real server from an image and verify the
// signature with the cosign CLI).
func TestImageCommand(t *testing.T) {
	clearKeyEnv(t)
	bins := binfmttest.NewBuilder()
	t.Cleanup(bins.Cleanup)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo := strings.TrimPrefix(srv.URL, "http://") + "/slipway"
	out, err := runSlipway(t, "image", "--repo", repo, "--version", "v1.2.3", "--tag", "latest",
		"--binary", "linux/amd64="+bins.Copy(t, "linux", "amd64"), "--binary", "linux/arm64="+bins.Copy(t, "linux", "arm64"),
		"--created", "2026-01-02T03:04:05Z", "--dev-keys", filepath.Join(t.TempDir(), "keys"), "--insecure-registry")
	if err != nil {
		t.Fatalf("slipway image: %v\n%s", err, out)
	}
	ref, err := name.NewDigest(strings.TrimSpace(out), name.Insecure)
	if err != nil {
		t.Fatalf("output %q is not a digest reference: %v", out, err)
	}
	for _, tag := range []string{"1.2.3", "latest", strings.Replace(ref.DigestStr(), ":", "-", 1) + ".sig"} {
		if _, err := remote.Head(ref.Context().Tag(tag)); err != nil {
			t.Errorf("tag %s: %v", tag, err)
		}
	}
	if _, err := runSlipway(t, "image", "--repo", repo, "--version", "1.2.3", "--binary", "linux/s390x="+os.Args[0],
		"--dev-keys", filepath.Join(t.TempDir(), "keys")); err == nil || !strings.Contains(err.Error(), "unsupported platform") {
		t.Errorf("unsupported platform: %v", err)
	}
}
