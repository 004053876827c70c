package release

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/registrytest"
	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/signing"
	"github.com/slipwayhq/slipway/signing/cosign"
	"github.com/slipwayhq/slipway/storage/fs"
)

// serverStandIn is a tiny module with a ./cmd/slipway main package that
// prints the stamped version: the image steps build it for both
// platforms as they build the real server (cross-compiling the real one
// twice costs minutes; ociimage.TestImage runs the real server image).
func serverStandIn(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":              "module example.invalid/standin\n\ngo 1.22\n",
		"cmd/slipway/main.go": "package main\n\nimport \"fmt\"\n\nvar version, commit string\n\nfunc main() { fmt.Println(\"slipway\", version, commit) }\n",
	}
	for p, data := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// imageRelease is the stand-in server module, a dist of version 1.4.0 in
// it, and dev signers.
func imageRelease(t *testing.T) (string, *Dist, []signing.Backend) {
	t.Helper()
	mod := serverStandIn(t)
	d := &Dist{Dir: filepath.Join(mod, "dist")}
	d.Metadata.ProjectName, d.Metadata.Version, d.Metadata.Commit = "slipway", "1.4.0", strings.Repeat("ab", 20)
	d.Metadata.Date = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	signers, err := devSigners(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	return mod, d, signers
}

// TestImageSteps runs the image and push steps: both server binaries
// built and stamped, the OCI layout archive identical when built again,
// the image pushed to a registry served on 127.0.0.1, pulled back with
// the layout's digest, and its signature verified by the real cosign CLI
// with the release key (and refused with another).
func TestImageSteps(t *testing.T) {
	cosignBin := testenv.Tool(t, "cosign", "scripts/tools.sh cosign")
	mod, d, signers := imageRelease(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo := strings.TrimPrefix(srv.URL, "http://") + "/slipway/slipway"
	r := &run{opts: Options{Dir: mod, Image: true, ImageRepo: repo, ImageInsecure: true}, dist: d, signers: signers, report: &Report{}}
	if err := (imageStep{}).Run(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	tarPath := filepath.Join(d.Dir, "slipway-server_1.4.0_oci.tar")
	first, err := os.ReadFile(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	if a := d.Artifacts[len(d.Artifacts)-1]; a.Name != filepath.Base(tarPath) || a.Type != typeImage || a.Extra.ID != "server" || a.Goos != "" {
		t.Errorf("image artifact %+v", a)
	}
	for _, arch := range imagePlatforms {
		bin := filepath.Join(d.Dir, "server_linux_"+arch, "slipway")
		out, err := exec.Command("go", "version", "-m", bin).Output()
		if err != nil || !strings.Contains(string(out), "GOARCH="+arch) || !strings.Contains(string(out), "CGO_ENABLED=0") || !strings.Contains(string(out), "-trimpath=true") {
			t.Errorf("%s: %v\n%s", bin, err, out)
		}
		if arch == runtimeArch() {
			if out, _ := exec.Command(bin).Output(); string(out) != "slipway 1.4.0 "+d.Metadata.Commit+"\n" {
				t.Errorf("server stamp %q", out)
			}
		}
	}
	// Built again from the same binaries: the same archive.
	os.Remove(tarPath)
	d.Artifacts = nil
	if err := (imageStep{}).Run(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(tarPath); !bytes.Equal(first, again) {
		t.Error("two builds of the image layout differ")
	}
	idx, cleanup, err := readImageLayout(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	want, _ := idx.Digest()
	m, err := idx.IndexManifest()
	if err != nil || len(m.Manifests) != 2 {
		t.Fatalf("index %+v %v", m, err)
	}

	if err := (imagePushStep{}).Run(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	if r.report.Image == nil || r.report.Image.Digest != repo+"@"+want.String() || r.report.Image.Tag != repo+":1.4.0" {
		t.Fatalf("report image %+v, want digest %s", r.report.Image, want)
	}
	var text bytes.Buffer
	r.report.WriteText(&text)
	if !strings.Contains(text.String(), r.report.Image.Digest) {
		t.Errorf("report text does not show the image:\n%s", text.String())
	}
	tag, _ := name.NewTag(repo+":1.4.0", name.Insecure)
	pulled, err := remote.Index(tag)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := pulled.Digest(); got != want {
		t.Errorf("registry serves %s for the version tag, layout holds %s", got, want)
	}
	pub := cosignSigner(signers).PublicKeyPEM()
	_, otherPub, err := cosign.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key []byte
		ok  bool
	}{{pub, true}, {otherPub, false}} {
		home := t.TempDir()
		keyFile := filepath.Join(home, "cosign.pub")
		if err := os.WriteFile(keyFile, tc.key, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(t.Context(), cosignBin, "verify", "--key", keyFile, "--insecure-ignore-tlog=true",
			"--allow-http-registry=true", "--allow-insecure-registry=true", r.report.Image.Digest)
		cmd.Env = append(os.Environ(), "HOME="+home, "TUF_ROOT="+filepath.Join(home, "tuf"),
			"SIGSTORE_REKOR_PUBLIC_KEY="+filepath.Join(home, "unused-rekor.pub"))
		out, err := cmd.CombinedOutput()
		if (err == nil) != tc.ok {
			t.Errorf("cosign verify (want ok=%v): %v\n%s", tc.ok, err, out)
		}
	}
}

// TestImagePushCredentials pushes to a registry that wants a password:
// refused without the release's registry credentials, accepted with them,
// and the credentials go to that registry only.
func TestImagePushCredentials(t *testing.T) {
	mod, d, signers := imageRelease(t)
	reg := registrytest.Start(t, "ci", "s3cret")
	repo := reg.Host + "/slipway/slipway"
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no credentials from this machine's Docker config
	opts := Options{Dir: mod, Image: true, ImageRepo: repo, ImageInsecure: true}
	r := &run{opts: opts, dist: d, signers: signers, report: &Report{}}
	if err := (imageStep{}).Run(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	if err := (imagePushStep{}).Run(t.Context(), r); err == nil || !strings.Contains(err.Error(), "SLIPWAY_REGISTRY_USERNAME") {
		t.Fatalf("push without credentials: %v, want a hint naming SLIPWAY_REGISTRY_USERNAME", err)
	}
	r.opts.RegistryUsername, r.opts.RegistryPassword = "ci", "wrong"
	if err := (imagePushStep{}).Run(t.Context(), r); err == nil || !strings.Contains(err.Error(), "refused") || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("push with a wrong password: %v (want a refusal that does not show the password)", err)
	}
	r.opts.RegistryPassword = "s3cret"
	if err := (imagePushStep{}).Run(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	if r.report.Image == nil || !strings.HasPrefix(r.report.Image.Digest, repo+"@sha256:") || reg.Authenticated.Load() == 0 {
		t.Fatalf("report image %+v, authenticated requests %d", r.report.Image, reg.Authenticated.Load())
	}
	// Another registry never receives them.
	other := registryKeychain(name.Registry{}, r.opts)
	otherReg, _ := name.NewRegistry("registry.example.com")
	if auth, err := other.Resolve(otherReg); err != nil || auth != authn.Anonymous {
		t.Errorf("credentials for another registry: %v %v", auth, err)
	}
	st, err := fs.New(t.TempDir(), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	half := Options{Image: true, ImageRepo: repo, RegistryUsername: "ci", Store: st}
	if err := half.setDefaults(); err == nil || !strings.Contains(err.Error(), "SLIPWAY_REGISTRY_PASSWORD") {
		t.Errorf("username without password: %v", err)
	}
}

// TestImageStepsOff: without --image neither step does anything, and
// without --image-repo nothing is pushed.
func TestImageStepsOff(t *testing.T) {
	d := &Dist{Dir: t.TempDir()}
	r := &run{opts: Options{}, dist: d, report: &Report{}}
	for _, s := range []Step{imageStep{}, imagePushStep{}} {
		if err := s.Run(t.Context(), r); err == nil || !strings.Contains(err.Error(), "no --image") {
			t.Errorf("%s without --image: %v", s.Name(), err)
		}
	}
	r.opts.Image = true
	if err := (imagePushStep{}).Run(t.Context(), r); err == nil || !strings.Contains(err.Error(), "no --image-repo") {
		t.Errorf("push without --image-repo: %v", err)
	}
	if entries, _ := os.ReadDir(d.Dir); len(entries) != 0 {
		t.Errorf("wrote %d files", len(entries))
	}
}

func TestReadImageLayoutRefusesGarbage(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string][]byte{"garbage.tar": []byte("not a tar"), "empty.tar": make([]byte, 1024)} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := readImageLayout(p); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

// TestPublishedNeedsTheImage: with --image, a commit whose agent and
// desktop are published but whose server image is not is built again.
func TestPublishedNeedsTheImage(t *testing.T) {
	testenv.Tool(t, "git", "apt-get install git")
	dir := t.TempDir()
	cfg := "project_name: slipway\narchives:\n  - id: agent\n  - id: desktop\n"
	if err := os.WriteFile(filepath.Join(dir, ".goreleaser.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"}, {"-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "x"}} {
		if _, err := gitOut(dir, args...); err != nil {
			t.Fatal(err)
		}
	}
	commit, err := gitOut(dir, "rev-parse", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	st, err := fs.New(t.TempDir(), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"agent", "desktop"} {
		b, _ := json.Marshal(Record{Product: p, Version: "1.4.0", Commit: commit})
		if err := st.Put(t.Context(), Key("", p, "1.4.0", RecordName), bytes.NewReader(b), int64(len(b)), "application/json"); err != nil {
			t.Fatal(err)
		}
	}
	for _, image := range []bool{false, true} {
		r := &run{opts: Options{Dir: dir, Version: "v1.4.0", Store: st, Image: image}, report: &Report{}}
		err := (publishedStep{}).Run(t.Context(), r)
		switch {
		case !image && (err != nil || !r.done):
			t.Errorf("without --image: %v, done %v; want published", err, r.done)
		case image && (r.done || err == nil || !strings.Contains(err.Error(), "server of commit")):
			t.Errorf("with --image: %v, done %v; want the server to be built", err, r.done)
		}
	}
}
