package release

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/slipwayhq/slipway/internal/s3test"
	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/storage"
	"github.com/slipwayhq/slipway/storage/fs"
)

// TestSnapshotBuild checks the shared full run: GoReleaser built 12
// binaries with version and commit stamped, every step printed a line and
// everything was published.
func TestSnapshotBuild(t *testing.T) {
	sharedBuild(t)
	rep := shared.report
	for _, step := range []string{"goreleaser", "build", "dist", "keys", "msi", "macos", "attest", "check", "sign", "publish"} {
		if !hasLinePrefix(shared.out, "  ok    "+step+" ") {
			t.Errorf("no ok line for step %s in:\n%s", step, shared.out)
		}
	}
	if !strings.HasPrefix(rep.Version, "0.0.1-snapshot.g") || len(rep.Commit) != 40 {
		t.Fatalf("version %q commit %q", rep.Version, rep.Commit)
	}
	if len(rep.Products) != 2 || rep.Products[0].Product != "agent" || rep.Products[1].Product != "desktop" {
		t.Fatalf("products = %+v", rep.Products)
	}
	for _, p := range rep.Products {
		// 6 archives + 6 Linux packages + MSI + 2 macOS archives + their 15 SBOMs +
		// provenance + checksums; the agent also has 2 macOS .pkg and their SBOMs.
		want := map[string]int{"agent": 36, "desktop": 32}[p.Product]
		if len(p.Artifacts) != want {
			t.Errorf("%s: %d artifacts, want %d", p.Product, len(p.Artifacts), want)
		}
		checkStatuses(t, p, StatusUploaded)
	}
	bin := filepath.Join(shared.dist, "agent_linux_"+runtimeArch()+"_"+map[string]string{"amd64": "v1", "arm64": "v8.0"}[runtimeArch()], "slipway-agent")
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("run built agent: %v", err)
	}
	if want := fmt.Sprintf("slipway-agent %s (%s)\n", rep.Version, rep.Commit); string(out) != want {
		t.Errorf("agent version = %q, want %q", out, want)
	}
	t.Run("re-release of the published commit", func(t *testing.T) {
		st, err := fs.New(shared.store, fs.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		again, err := Run(t.Context(), Options{Dir: shared.repo, Snapshot: true, Store: st, DataDir: filepath.Join(shared.root, "data"), SlipwayBin: shared.hookBin, Out: &out})
		if err != nil {
			t.Fatal(err)
		}
		if !hasLinePrefix(out.String(), "  ok    published") || !hasLinePrefix(out.String(), "  skip  build") {
			t.Errorf("the published commit was built again:\n%s", out.String())
		}
		if again.Version != rep.Version || len(again.Products) != 2 {
			t.Fatalf("report = %+v", again)
		}
		for _, p := range again.Products {
			checkStatuses(t, p, StatusUnchanged)
		}
	})
}

func TestPublishFS(t *testing.T) {
	sharedBuild(t)
	dir := t.TempDir()
	st, err := fs.New(dir, fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	publishSuite(t, st, srv.URL)
}

func TestPublishS3(t *testing.T) {
	sharedBuild(t)
	srv := s3test.Start(t)
	srv.SetEnv(t)
	st, err := storage.Open(t.Context(), srv.Spec(""))
	if err != nil {
		t.Fatal(err)
	}
	publishSuite(t, st, "") // presigned URLs
}

// publishSuite runs the publish scenarios against one store, each under its
// own key prefix.
func publishSuite(t *testing.T, st storage.Store, publicURL string) {
	opts := func(prefix string) Options {
		return Options{Dist: copyDist(t), SkipBuild: true, Snapshot: true, Store: st, Prefix: prefix, PublicURL: publicURL, Signers: shared.signers}
	}
	t.Run("publish and fetch back", func(t *testing.T) {
		rep, err := Run(t.Context(), opts("a"))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range rep.Products {
			checkStatuses(t, p, StatusUploaded)
		}
		fetchAndVerify(t, rep)
	})
	t.Run("re-publish identical is a no-op", func(t *testing.T) {
		before := listInfo(t, st, "a/")
		rep, err := Run(t.Context(), opts("a"))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range rep.Products {
			checkStatuses(t, p, StatusUnchanged)
		}
		for _, s := range rep.Steps {
			if (s.Name == "sign" || s.Name == "publish") && s.Skipped == "" {
				t.Errorf("step %s ran on an unchanged release", s.Name)
			}
		}
		if after := listInfo(t, st, "a/"); after != before {
			t.Errorf("objects changed on re-publish:\nbefore %s\nafter  %s", before, after)
		}
	})
	t.Run("a build without its provenance re-publishes unchanged", func(t *testing.T) {
		// `dagger call release` publishes from a cached build step, so the
		// provenance is signed afresh on every call; the published envelope
		// (same statement, same key) must be reused, not a conflict.
		before := listInfo(t, st, "a/")
		o := opts("a")
		provs, err := filepath.Glob(filepath.Join(o.Dist, "*"+ProvenanceExt))
		if err != nil || len(provs) != 2 {
			t.Fatalf("provenance files in dist: %v %v", provs, err)
		}
		for _, f := range provs {
			if err := os.Remove(f); err != nil {
				t.Fatal(err)
			}
		}
		rep, err := Run(t.Context(), o)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range rep.Products {
			checkStatuses(t, p, StatusUnchanged)
		}
		if after := listInfo(t, st, "a/"); after != before {
			t.Errorf("objects changed on re-publish:\nbefore %s\nafter  %s", before, after)
		}
	})
	t.Run("missing objects of a published release are repaired", func(t *testing.T) {
		before := listInfo(t, st, "a/")
		rep, err := Run(t.Context(), opts("a"))
		if err != nil {
			t.Fatal(err)
		}
		a := rep.Products[0].Artifacts[0]
		gone := []string{a.Key, a.Key + sigExt("minisign")}
		for _, k := range gone {
			if err := st.Delete(t.Context(), k); err != nil {
				t.Fatal(err)
			}
		}
		var out bytes.Buffer
		o := opts("a")
		o.Out = &out
		rep, err = Run(t.Context(), o)
		if err != nil {
			t.Fatal(err)
		}
		p := rep.Products[0]
		if p.Missing != 2 || p.Record.Status != StatusUnchanged || p.Artifacts[0].Status != StatusUploaded ||
			p.Artifacts[0].Signatures["minisign"].Status != StatusUploaded {
			t.Errorf("repair report: missing %d, record %s, artifact %s, minisign %s", p.Missing, p.Record.Status,
				p.Artifacts[0].Status, p.Artifacts[0].Signatures["minisign"].Status)
		}
		if !strings.Contains(out.String(), "2 of its objects are missing from the store: uploading them again") {
			t.Errorf("output does not report the repair:\n%s", out.String())
		}
		checkStatuses(t, rep.Products[1], StatusUnchanged)
		fetchAndVerify(t, rep)
		// The same keys as before; release.json untouched (same line:
		// size, mtime, ETag).
		after := listInfo(t, st, "a/")
		if keysOf(after) != keysOf(before) {
			t.Errorf("objects after repair:\n%s\nwant the keys of\n%s", after, before)
		}
		recKey := Key("a", p.Product, p.Version, RecordName)
		if line := lineOf(after, recKey); line == "" || line != lineOf(before, recKey) {
			t.Errorf("release.json rewritten by a repair: %q, was %q", line, lineOf(before, recKey))
		}
	})
	t.Run("different bytes refused", func(t *testing.T) {
		before := listInfo(t, st, "a/")
		o := opts("a")
		tamper(t, o.Dist, "slipway-agent_")
		_, err := Run(t.Context(), o)
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("err = %v, want ErrConflict", err)
		}
		if after := listInfo(t, st, "a/"); after != before {
			t.Errorf("objects changed by a refused release")
		}
	})
	t.Run("conflicting file without record", func(t *testing.T) {
		o := opts("c")
		d, err := ReadDist(o.Dist)
		if err != nil {
			t.Fatal(err)
		}
		key := Key("c", "desktop", d.Metadata.Version, "slipway_"+d.Metadata.Version+"_checksums.txt")
		if err := st.Put(t.Context(), key, strings.NewReader("other\n"), 6, "text/plain"); err != nil {
			t.Fatal(err)
		}
		_, err = Run(t.Context(), o)
		if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "checksums.txt") {
			t.Fatalf("err = %v, want ErrConflict naming the checksums file", err)
		}
		if got := listInfo(t, st, "c/"); strings.Count(got, "\n") != 1 {
			t.Errorf("a refused release wrote objects:\n%s", got)
		}
	})
	t.Run("interrupted publish resumes", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		o := opts("b")
		o.Store = &cancelingStore{Store: st, left: 9, cancel: cancel}
		o.Parallelism = 1
		if _, err := Run(ctx, o); err == nil {
			t.Fatal("publish cancelled half-way succeeded")
		}
		n := strings.Count(listInfo(t, st, "b/"), "\n")
		if n == 0 || n > 9 {
			t.Fatalf("%d objects after the interruption, want 1..9", n)
		}
		for _, p := range []string{"agent", "desktop"} {
			if _, err := st.Stat(t.Context(), Key("b", p, shared.report.Version, RecordName)); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("%s release.json visible after an interrupted publish (err=%v)", p, err)
			}
		}
		rep, err := Run(t.Context(), opts("b"))
		if err != nil {
			t.Fatalf("resume: %v", err)
		}
		var unchanged int
		for _, p := range rep.Products {
			for _, a := range p.Artifacts {
				if a.Status == StatusUnchanged {
					unchanged++
				}
			}
			if p.Record.Status != StatusUploaded {
				t.Errorf("%s record %s", p.Product, p.Record.Status)
			}
		}
		if unchanged == 0 {
			t.Error("resume re-uploaded everything")
		}
		fetchAndVerify(t, rep)
	})
	t.Run("stale partial signatures are replaced", func(t *testing.T) {
		// An earlier, interrupted run left lone signature files from
		// another signing: one next to a missing archive, one next to a
		// present archive whose other signature file is missing.
		o := opts("e")
		d, err := ReadDist(o.Dist)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, a := range d.Artifacts {
			if a.Type == TypeArchive && strings.HasPrefix(a.Name, "slipway-agent_") {
				names = append(names, a.Name)
			}
		}
		old := t.TempDir()
		otherKeys, err := devSigners(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		for i, name := range names[:2] {
			b, err := os.ReadFile(filepath.Join(o.Dist, name))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(old, name), b)
			for _, s := range otherKeys {
				if _, err := s.Sign(t.Context(), filepath.Join(old, name)); err != nil {
					t.Fatal(err)
				}
			}
			key := Key("e", "agent", d.Metadata.Version, name)
			mustPutFile(t, st, filepath.Join(old, name+".minisig"), key+".minisig")
			if i == 1 {
				mustPutFile(t, st, filepath.Join(old, name), key)
			}
		}
		rep, err := Run(t.Context(), o)
		if err != nil {
			t.Fatal(err)
		}
		fetchAndVerify(t, rep)
	})
	t.Run("dry run writes nothing", func(t *testing.T) {
		o := opts("d")
		o.DryRun = true
		rep, err := Run(t.Context(), o)
		if err != nil {
			t.Fatal(err)
		}
		if got := listInfo(t, st, "d/"); got != "" {
			t.Errorf("dry run wrote:\n%s", got)
		}
		for _, p := range rep.Products {
			checkStatuses(t, p, StatusPlanned)
		}
	})
}

// checkStatuses asserts every object of a product has the given status.
func checkStatuses(t *testing.T, p ProductReport, want FileStatus) {
	t.Helper()
	if p.Record.Status != want {
		t.Errorf("%s release.json: %s, want %s", p.Product, p.Record.Status, want)
	}
	for _, a := range p.Artifacts {
		if a.Status != want {
			t.Errorf("%s: %s, want %s", a.Name, a.Status, want)
		}
		if len(a.Signatures) != 4 {
			t.Errorf("%s: %d signatures, want 4", a.Name, len(a.Signatures))
		}
		for k, s := range a.Signatures {
			if s.Status != want {
				t.Errorf("%s %s signature: %s, want %s", a.Name, k, s.Status, want)
			}
		}
	}
}

// fetchAndVerify downloads every published object over HTTP, checks the
// sha256 against release.json and every signature with the signers'
// verifiers (and the minisign CLI when installed).
func fetchAndVerify(t *testing.T, rep *Report) {
	t.Helper()
	for _, p := range rep.Products {
		dir := t.TempDir()
		var rec Record
		if err := json.Unmarshal(httpGet(t, p.Record.URL), &rec); err != nil {
			t.Fatalf("release.json: %v", err)
		}
		if rec.Product != p.Product || rec.Version != rep.Version || rec.Commit != rep.Commit || len(rec.Artifacts) != len(p.Artifacts) {
			t.Fatalf("release.json = %+v", rec)
		}
		for i, a := range rec.Artifacts {
			ar := p.Artifacts[i]
			body := httpGet(t, ar.URL)
			if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != a.SHA256 || int64(len(body)) != a.Size {
				t.Fatalf("%s: fetched bytes do not match release.json", a.Name)
			}
			writeFile(t, filepath.Join(dir, a.Name), body)
			for kind, name := range a.Signatures {
				writeFile(t, filepath.Join(dir, name), httpGet(t, ar.Signatures[kind].URL))
			}
			for _, s := range shared.signers {
				if err := s.Verify(t.Context(), filepath.Join(dir, a.Name)); err != nil {
					t.Errorf("%s: %s verify: %v", a.Name, s, err)
				}
			}
		}
	}
}

func httpGet(t *testing.T, url string) []byte {
	t.Helper()
	if url == "" {
		t.Fatal("object has no URL")
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// listInfo renders key, size, mtime and ETag of every object under prefix.
func listInfo(t *testing.T, st storage.Store, prefix string) string {
	t.Helper()
	list, err := st.List(t.Context(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, i := range list {
		fmt.Fprintf(&b, "%s %d %s %s\n", i.Key, i.Size, i.ModTime.UTC().Format("15:04:05.000000000"), i.ETag)
	}
	return b.String()
}

// keysOf keeps the keys of a listInfo listing.
func keysOf(list string) string {
	var keys []string
	for line := range strings.Lines(list) {
		keys = append(keys, strings.Fields(line)[0])
	}
	return strings.Join(keys, "\n")
}

// lineOf returns the listInfo line of key, or "".
func lineOf(list, key string) string {
	for line := range strings.Lines(list) {
		if strings.Fields(line)[0] == key {
			return line
		}
	}
	return ""
}

// tamper changes the first archive whose name starts with prefix and
// rewrites the checksums file to match, as a rebuild from other sources
// would.
func tamper(t *testing.T, dist, prefix string) {
	t.Helper()
	d, err := ReadDist(dist)
	if err != nil {
		t.Fatal(err)
	}
	var sumsFile string
	for _, a := range d.Artifacts {
		if a.Type == TypeChecksum {
			sumsFile = filepath.Join(dist, a.Name)
		}
	}
	for _, a := range d.Artifacts {
		if a.Type != TypeArchive || !strings.HasPrefix(a.Name, prefix) {
			continue
		}
		p := filepath.Join(dist, a.Name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, 0)
		writeFile(t, p, b)
		sum := sha256.Sum256(b)
		sums, err := os.ReadFile(sumsFile)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, sumsFile, bytes.Replace(sums, []byte(d.Checksums[a.Name]), []byte(hex.EncodeToString(sum[:])), 1))
		return
	}
	t.Fatalf("no archive %s* in %s", prefix, dist)
}

// cancelingStore cancels the release after `left` successful uploads, as a
// killed job would stop.
type cancelingStore struct {
	storage.Store
	left   int32
	cancel context.CancelFunc
}

func (c *cancelingStore) Put(ctx context.Context, key string, r io.Reader, size int64, ct string) error {
	if atomic.AddInt32(&c.left, -1) < 0 {
		c.cancel()
		return context.Canceled
	}
	return c.Store.Put(ctx, key, r, size, ct)
}

// TestReproducibleBuild builds the same commit again in a fresh clone (new
// file mtimes) and compares every binary, archive, Linux package (.deb,
// .rpm, .apk) and the checksums file byte for byte.
func TestReproducibleBuild(t *testing.T) {
	sharedBuild(t)
	gr := testenv.Tool(t, "goreleaser", "scripts/tools.sh goreleaser")
	clone := filepath.Join(t.TempDir(), "clone")
	if _, err := gitOut("", "clone", "-q", shared.repo, clone); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), gr, "release", "--snapshot", "--clean", "--skip=publish,announce")
	cmd.Dir = clone
	cmd.Env = append(os.Environ(), "SLIPWAY_BIN="+shared.hookBin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("second build: %v\n%s", err, out)
	}
	first, err := ReadDist(shared.dist)
	if err != nil {
		t.Fatal(err)
	}
	second, err := ReadDist(filepath.Join(clone, "dist"))
	if err != nil {
		t.Fatal(err)
	}
	if first.Metadata.Commit != second.Metadata.Commit || first.Metadata.Version != second.Metadata.Version {
		t.Fatalf("builds of different commits: %+v vs %+v", first.Metadata, second.Metadata)
	}
	compared := 0
	for _, a := range first.Artifacts {
		if a.Type != TypeArchive && a.Type != TypeChecksum && a.Type != "Binary" && a.Type != TypeLinuxPackage {
			continue
		}
		rel := strings.TrimPrefix(filepath.ToSlash(a.Path), "dist/")
		b1, err1 := os.ReadFile(filepath.Join(shared.dist, rel))
		b2, err2 := os.ReadFile(filepath.Join(clone, "dist", rel))
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %v %v", rel, err1, err2)
		}
		if !bytes.Equal(b1, b2) {
			t.Errorf("%s differs between two builds of the same commit", rel)
		}
		compared++
	}
	if compared != 12+12+12+1 {
		t.Errorf("compared %d files, want 12 binaries + 12 archives + 12 packages + checksums", compared)
	}
}

func hasLinePrefix(out, prefix string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

func runtimeArch() string { return runtime.GOARCH }

func mustPutFile(t *testing.T, st storage.Store, path, key string) {
	t.Helper()
	if err := putFile(t.Context(), st, path, key); err != nil {
		t.Fatal(err)
	}
}

// TestTaggedRelease releases a tag (not a snapshot): the version comes from
// --version, and a second run, with --version or from the tag at HEAD,
// finds the commit published and builds nothing.
func TestTaggedRelease(t *testing.T) {
	sharedBuild(t)
	clone := filepath.Join(t.TempDir(), "clone")
	if _, err := gitOut("", "clone", "-q", shared.repo, clone); err != nil {
		t.Fatal(err)
	}
	if _, err := gitOut(clone, "tag", "v1.2.3"); err != nil {
		t.Fatal(err)
	}
	st, err := fs.New(t.TempDir(), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Dir: clone, Version: "v1.2.3", Store: st, Signers: shared.signers, SlipwayBin: shared.hookBin}
	rep, err := Run(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Version != "1.2.3" || len(rep.Products) != 2 {
		t.Fatalf("report version %q, %d products", rep.Version, len(rep.Products))
	}
	for _, p := range rep.Products {
		checkStatuses(t, p, StatusUploaded)
	}
	bin := filepath.Join(clone, "dist", "desktop_linux_"+runtimeArch()+"_"+map[string]string{"amd64": "v1", "arm64": "v8.0"}[runtimeArch()], "slipway-desktop")
	if out, err := exec.Command(bin, "version").Output(); err != nil || !strings.HasPrefix(string(out), "slipway-desktop 1.2.3 ") {
		t.Errorf("desktop version = %q, %v", out, err)
	}
	for _, version := range []string{"v1.2.3", ""} {
		opts.Version = version
		var out bytes.Buffer
		opts.Out = &out
		again, err := Run(t.Context(), opts)
		if err != nil {
			t.Fatal(err)
		}
		if !hasLinePrefix(out.String(), "  ok    published") || again.Version != "1.2.3" {
			t.Errorf("version %q: the published tag was built again:\n%s", version, out.String())
		}
	}
}
