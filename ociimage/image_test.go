package ociimage

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/signing/binfmt/binfmttest"
	"github.com/slipwayhq/slipway/signing/cosign"
)

var created = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// buildServer builds the static slipway binary for this machine's
// platform, the one the test runs. The other platform gets a small static
// stand-in program: cross-compiling the whole server again costs minutes
// of CI time and proves nothing the layout checks do not.
func buildServer(t *testing.T) map[string]string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "slipway")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/slipway")
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/slipway: %v\n%s", err, b)
	}
	other := map[string]string{"amd64": "arm64", "arm64": "amd64"}[runtime.GOARCH]
	bins := binfmttest.NewBuilder()
	t.Cleanup(bins.Cleanup)
	return map[string]string{"linux/" + runtime.GOARCH: bin, "linux/" + other: bins.Copy(t, "linux", other)}
}

// TestImage builds the two-platform image, pushes it to a registry served
// on 127.0.0.1 by the test, pulls it back and checks it, signs it and has
// the real cosign CLI verify the signature, then starts the server from the
// unpacked root filesystem of this machine's platform.
func TestImage(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the image is linux/amd64 and linux/arm64")
	}
	cosignBin := testenv.Tool(t, "cosign", "scripts/tools.sh cosign")
	opts := Options{Binaries: buildServer(t), Version: "1.4.0", Commit: strings.Repeat("ab", 20), Created: created,
		Source: "https://github.com/slipwayhq/slipway"}
	idx, err := Build(opts)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Build(opts)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := idx.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("two builds of the same binaries differ: %s %s", d1, d2)
	}

	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo := strings.TrimPrefix(srv.URL, "http://") + "/slipway/server"
	pushed, err := Push(t.Context(), idx, repo, []string{"1.4.0", "latest"}, []name.Option{Insecure})
	if err != nil {
		t.Fatal(err)
	}
	if pushed.Digest.DigestStr() != d1.String() {
		t.Errorf("pushed digest %s, built %s", pushed.Digest.DigestStr(), d1)
	}
	pulled := pullAndCheck(t, repo, d1)

	priv, pub, err := cosign.GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := cosign.New(priv, []byte("pw"), cosign.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := Sign(t.Context(), pushed.Digest, signer); err != nil {
		t.Fatal(err)
	}
	verifyWithCosign(t, cosignBin, pub, pushed.Digest.String())

	img, err := pulled.Image(hostPlatform(t, pulled))
	if err != nil {
		t.Fatal(err)
	}
	runServer(t, img)
}

func pullAndCheck(t *testing.T, repo string, want v1.Hash) v1.ImageIndex {
	t.Helper()
	ref, err := name.NewTag(repo+":1.4.0", Insecure)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(ref)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := idx.Digest(); d != want {
		t.Fatalf("tag 1.4.0 is %s, want %s", d, want)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var plats []string
	for _, m := range im.Manifests {
		plats = append(plats, m.Platform.OS+"/"+m.Platform.Architecture)
		img, err := idx.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		c := cf.Config
		if c.User != "65532:65532" || !slices.Equal(c.Entrypoint, []string{BinaryPath}) || !slices.Equal(c.Cmd, []string{"server"}) ||
			cf.Architecture != m.Platform.Architecture || cf.OS != "linux" {
			t.Errorf("%s: config %+v", m.Platform, c)
		}
		if c.Labels["org.opencontainers.image.version"] != "1.4.0" || c.Labels["org.opencontainers.image.revision"] != strings.Repeat("ab", 20) {
			t.Errorf("%s: labels %v", m.Platform, c.Labels)
		}
		if !slices.Contains(c.Env, "SLIPWAY_ADDR=:8080") || !slices.Contains(c.Env, "SLIPWAY_DATA=/data") {
			t.Errorf("%s: env %v", m.Platform, c.Env)
		}
	}
	slices.Sort(plats)
	if !slices.Equal(plats, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("platforms %v", plats)
	}
	return idx
}

func verifyWithCosign(t *testing.T, bin string, pub []byte, ref string) {
	t.Helper()
	home := t.TempDir()
	other, otherPub, err := cosign.GenerateKeyPair(nil)
	_ = other
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key []byte
		ok  bool
	}{{pub, true}, {otherPub, false}} {
		keyFile := filepath.Join(t.TempDir(), "cosign.pub")
		if err := os.WriteFile(keyFile, tc.key, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(t.Context(), bin, "verify", "--key", keyFile, "--insecure-ignore-tlog=true",
			"--allow-http-registry=true", "--allow-insecure-registry=true", ref)
		cmd.Env = append(os.Environ(), "HOME="+home, "TUF_ROOT="+filepath.Join(home, "tuf"),
			"SIGSTORE_REKOR_PUBLIC_KEY="+filepath.Join(home, "unused-rekor.pub"))
		out, err := cmd.CombinedOutput()
		if (err == nil) != tc.ok {
			t.Errorf("cosign verify (want ok=%v): %v\n%s", tc.ok, err, out)
		}
		if tc.ok && !strings.Contains(string(out), `"docker-manifest-digest":"`+strings.TrimPrefix(ref, ref[:strings.Index(ref, "@")+1])) {
			t.Errorf("cosign verify output does not name the digest:\n%s", out)
		}
	}
}

func hostPlatform(t *testing.T, idx v1.ImageIndex) v1.Hash {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range im.Manifests {
		if m.Platform.Architecture == runtime.GOARCH {
			return m.Digest
		}
	}
	t.Fatalf("no image for %s", runtime.GOARCH)
	return v1.Hash{}
}

// runServer unpacks the image's root filesystem and starts its entrypoint
// as the image's user (when the test runs as root), then waits for
// /healthz.
func runServer(t *testing.T, img v1.Image) {
	t.Helper()
	// Not under t.TempDir(): its parent is 0700, closed to the image's
	// user.
	parent, err := os.MkdirTemp("", "slipway-image-rootfs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(parent, "rootfs")
	unpack(t, img, root)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(filepath.Join(root, BinaryPath), "server", "--addr", addr)
	cmd.Env = []string{"SLIPWAY_DATA=" + filepath.Join(root, DataDir), "HOME=" + filepath.Join(root, DataDir)}
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: UID, Gid: GID}}
	} else if err := os.Chmod(filepath.Join(root, DataDir), 0o700); err != nil {
		t.Fatal(err)
	}
	log := &testenv.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server from the image never answered /healthz: %v\n%s", err, log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// unpack writes the flattened filesystem (regular files and directories,
// with their modes and owners) under root.
func unpack(t *testing.T, img v1.Image, root string) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	seen := map[string]bool{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, os.FileMode(h.Mode).Perm())
			if err == nil {
				err = os.Chmod(p, os.FileMode(h.Mode).Perm())
			}
		case tar.TypeReg:
			var f *os.File
			if f, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm()); err == nil {
				_, err = io.Copy(f, tr)
				f.Close()
			}
		default:
			t.Fatalf("unexpected entry %s (type %c)", h.Name, h.Typeflag)
		}
		if err == nil && os.Geteuid() == 0 {
			err = os.Lchown(p, h.Uid, h.Gid)
		}
		if err != nil {
			t.Fatal(err)
		}
		seen["/"+strings.TrimSuffix(h.Name, "/")] = true
	}
	for _, want := range []string{BinaryPath, "/etc/passwd", "/etc/group", DataDir, "/tmp"} {
		if !seen[want] {
			t.Errorf("image lacks %s", want)
		}
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if !strings.Contains(string(passwd), fmt.Sprintf("nonroot:x:%d:%d:", UID, GID)) {
		t.Errorf("/etc/passwd = %q", passwd)
	}
}
