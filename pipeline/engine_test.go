//go:build slipway_typecheck

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	sdk "dagger.io/dagger"
)

// recordingEngine stands in for the Dagger engine's GraphQL endpoint: it
// records every query the real dagger.io/dagger v0.19.7 client sends and
// answers each with data of the shape the client unpacks (IDs for id,
// "out:<field>" for other leaves). It executes nothing; it shows what the
// module asks the engine to do.
type recordingEngine struct {
	mu      sync.Mutex
	queries []string
	ids     int
}

func (e *recordingEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Query string `json:"query"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: req.Query})
	if err != nil || len(doc.Operations) != 1 {
		http.Error(w, fmt.Sprintf("bad query %q: %v", req.Query, err), http.StatusBadRequest)
		return
	}
	e.mu.Lock()
	e.queries = append(e.queries, req.Query)
	data := e.answer(doc.Operations[0].SelectionSet)
	e.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]any{"data": data})
}

func (e *recordingEngine) answer(set ast.SelectionSet) map[string]any {
	out := map[string]any{}
	for _, sel := range set {
		f, ok := sel.(*ast.Field)
		if !ok {
			continue
		}
		switch {
		case len(f.SelectionSet) > 0:
			out[f.Alias] = e.answer(f.SelectionSet)
		case f.Name == "id":
			e.ids++
			out[f.Alias] = fmt.Sprintf("fake-id-%d", e.ids)
		default:
			out[f.Alias] = "out:" + f.Name
		}
	}
	return out
}

func (e *recordingEngine) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.queries...)
}

type fakeConn struct {
	*http.Client
	host string
}

func (c fakeConn) Host() string { return c.host }
func (fakeConn) Close() error   { return nil }

// connectFake points the module's `dag` at a recording engine.
func connectFake(t *testing.T) *recordingEngine {
	t.Helper()
	eng := &recordingEngine{}
	srv := httptest.NewServer(eng)
	t.Cleanup(srv.Close)
	client, err := sdk.Connect(t.Context(), sdk.WithConn(fakeConn{srv.Client(), strings.TrimPrefix(srv.URL, "http://")}))
	if err != nil {
		t.Fatal(err)
	}
	old := dag
	dag = client
	t.Cleanup(func() { dag = old })
	return eng
}

// call is one step of a recorded query chain, with its arguments as
// GraphQL literals (strings quoted, lists in brackets).
type call struct {
	name string
	args map[string]string
}

// chain parses a recorded query into its steps, outermost first.
func chain(t *testing.T, query string) []call {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		t.Fatalf("recorded query does not parse: %v", err)
	}
	var out []call
	for set := doc.Operations[0].SelectionSet; len(set) == 1; {
		f := set[0].(*ast.Field)
		c := call{name: f.Name, args: map[string]string{}}
		for _, a := range f.Arguments {
			c.args[a.Name] = a.Value.String()
		}
		out = append(out, c)
		set = f.SelectionSet
	}
	return out
}

// find returns the index of the first step named name whose arguments
// include args (literal values), or -1.
func find(steps []call, name string, args map[string]string) int {
next:
	for i, c := range steps {
		if c.name != name {
			continue
		}
		for k, v := range args {
			if c.args[k] != v {
				continue next
			}
		}
		return i
	}
	return -1
}

// q quotes a string as a GraphQL literal; list a []string.
func q(s string) string { return strconv.Quote(s) }
func list(s ...string) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = q(v)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// want checks that steps contain each expected step, in this order.
func want(t *testing.T, steps []call, expected []call) {
	t.Helper()
	from := 0
	for _, e := range expected {
		i := find(steps[from:], e.name, e.args)
		if i < 0 {
			t.Errorf("no %s%v after step %d in\n%v", e.name, e.args, from, steps)
			return
		}
		from += i + 1
	}
}

// chanFlags are the flags the channel commands must get (cmd/slipway/channels.go).
func chanFlags(spec string) []string {
	return []string{"--channels", "release/channels.yaml", "--store", spec,
		"--keys", "/run/secrets/slipway/tuf", "--minisign-pub", "/run/slipway/minisign.pub"}
}

func exec(args ...string) call {
	return call{"withExec", map[string]string{"args": list(args...)}}
}

func env(name, value string) call {
	return call{"withEnvVariable", map[string]string{"name": q(name), "value": q(value)}}
}

func lastChain(t *testing.T, eng *recordingEngine) []call {
	t.Helper()
	qs := eng.all()
	if len(qs) == 0 {
		t.Fatal("no query recorded")
	}
	return chain(t, qs[len(qs)-1])
}

const (
	cosignPlain   = "PLAINTEXT-cosign-password"
	s3SecretPlain = "PLAINTEXT-s3-secret-key"
	registryPlain = "PLAINTEXT-registry-token"
	minisignPlain = "PLAINTEXT-minisign-key-file"
)

// releaseBeta calls Release of v1.4.0 to channel beta on MinIO with every
// required secret (no Authenticode, ad-hoc macOS) and returns the result's
// directory ID (which makes the client load the returned files).
func releaseBeta(t *testing.T, m *Slipway, dryRun bool) {
	t.Helper()
	secret := func(name, plain string) *sdk.Secret { return dag.SetSecret(name, plain) }
	dir, err := m.Release(context.Background(), "v1.4.0", "beta",
		"minio.internal:9000", "releases", "us-east-1", "slipway", true, false,
		secret("ak", "AKIAEXAMPLE"), secret("sk", s3SecretPlain),
		secret("ck", "cosign-key-pem"), secret("cp", cosignPlain),
		secret("mk", minisignPlain), secret("mp", "minisign-pw"),
		nil, nil, nil, nil, // no Authenticode, ad-hoc macOS
		dag.Directory().WithNewFile("minisign.pub", "untrusted comment: test\nRWQ=").File("minisign.pub"),
		dryRun, true, "registry.internal/slipway", "ci-bot", secret("rp", registryPlain), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.ID(context.Background()); err != nil {
		t.Fatal(err)
	}
}

const minioSpec = "s3://releases/slipway?endpoint=minio.internal%3A9000&path-style=true&region=us-east-1"

// chains parses every recorded query that is not a secret's.
func chains(t *testing.T, eng *recordingEngine) [][]call {
	t.Helper()
	var out [][]call
	for _, query := range eng.all() {
		if !strings.Contains(query, "setSecret") {
			out = append(out, chain(t, query))
		}
	}
	return out
}

// withExec finds the chain containing an exec with exactly these args.
func withExec(t *testing.T, all [][]call, args ...string) []call {
	t.Helper()
	for _, c := range all {
		if find(c, "withExec", map[string]string{"args": list(args...)}) >= 0 {
			return c
		}
	}
	t.Fatalf("no query runs %v", args)
	return nil
}

func TestReleaseAsksEngine(t *testing.T) {
	eng := connectFake(t)
	m := New(dag.Directory(), "", "https://goproxy.corp", "-mod=mod", "", "sum.golang.org https://goproxy.corp/sumdb/sum.golang.org")
	releaseBeta(t, m, false)
	all := chains(t, eng)
	var text strings.Builder
	for _, q := range eng.all() {
		if !strings.Contains(q, "setSecret") {
			text.WriteString(q)
		}
	}
	for _, plain := range []string{cosignPlain, s3SecretPlain, minisignPlain, "AKIAEXAMPLE", registryPlain} {
		if strings.Contains(text.String(), plain) {
			t.Errorf("a secret's plaintext reached a container query: %s", plain)
		}
	}
	build := exec("slipway", "release", "--build-only", "--version", "v1.4.0", "--image")
	publish := exec("slipway", "release", "--version", "v1.4.0", "--skip-build", "--store", minioSpec, "--report-file", "/tmp/slipway-report.json", "--image", "--image-repo", "registry.internal/slipway")
	steps := withExec(t, all, "slipway", "release", "--version", "v1.4.0", "--skip-build", "--store", minioSpec, "--report-file", "/tmp/slipway-report.json", "--image", "--image-repo", "registry.internal/slipway")
	want(t, steps, []call{
		{"container", nil},
		{"from", map[string]string{"address": q(DefaultGoImage)}},
		{"withMountedCache", map[string]string{"path": q("/go/pkg/mod")}},
		{"withMountedCache", map[string]string{"path": q("/root/.cache/go-build")}},
		env("GOPROXY", "https://goproxy.corp"),
		env("GOTOOLCHAIN", "go1.27.3"),
		env("GOFLAGS", "-mod=mod"),
		env("GOSUMDB", "sum.golang.org https://goproxy.corp/sumdb/sum.golang.org"),
		{"withDirectory", map[string]string{"path": q("/src")}},
		exec("go", "build", "-trimpath", "-o", "/usr/local/bin/slipway", "./cmd/slipway"),
		build,
		{"withSecretVariable", map[string]string{"name": q("AWS_ACCESS_KEY_ID")}},
		{"withSecretVariable", map[string]string{"name": q("AWS_SECRET_ACCESS_KEY")}},
		{"withMountedSecret", map[string]string{"path": q("/run/secrets/slipway/cosign.key")}},
		env("SLIPWAY_COSIGN_KEY", "/run/secrets/slipway/cosign.key"),
		{"withSecretVariable", map[string]string{"name": q("COSIGN_PASSWORD")}},
		{"withMountedSecret", map[string]string{"path": q("/run/secrets/slipway/minisign.key")}},
		{"withSecretVariable", map[string]string{"name": q("SLIPWAY_MINISIGN_PASSWORD")}},
		env("SLIPWAY_REGISTRY_USERNAME", "ci-bot"),
		{"withSecretVariable", map[string]string{"name": q("SLIPWAY_REGISTRY_PASSWORD")}},
		{"withMountedFile", map[string]string{"path": q("/run/slipway/minisign.pub")}},
		{"withEnvVariable", map[string]string{"name": q("SLIPWAY_PIPELINE_RUN")}},
		publish,
		{"stdout", nil},
	})
	// Split build and publish: the build exec sees no artifact key, S3
	// credential or per-run value (so the engine caches it by source and
	// version); the per-run variable comes right before the publish.
	bi := find(steps, build.name, build.args)
	for _, c := range steps[:bi] {
		if strings.HasPrefix(c.name, "withSecret") || strings.HasPrefix(c.name, "withMountedSecret") ||
			(c.name == "withEnvVariable" && c.args["name"] == q("SLIPWAY_PIPELINE_RUN")) {
			t.Errorf("the build depends on %s%v: it would not be cached across releases", c.name, c.args)
		}
	}
	if pi := find(steps, publish.name, publish.args); pi < 1 || steps[pi-1].args["name"] != q("SLIPWAY_PIPELINE_RUN") {
		t.Error("no cache-busting variable right before the publish exec")
	}
	for _, c := range steps {
		if c.name == "withEnvVariable" && (strings.Contains(c.args["name"], "PASSWORD") || strings.Contains(c.args["name"], "SECRET")) {
			t.Errorf("secret-looking plain variable %v", c.args)
		}
		if c.name == "withExec" && strings.Contains(c.args["args"], "osslsigncode") {
			t.Error("osslsigncode installed without an Authenticode certificate")
		}
	}

	// The channel change is proposed, verified, and returned; never applied.
	ch := withExec(t, all, append([]string{"slipway", "plan"}, chanFlags(minioSpec)...)...)
	want(t, ch, []call{
		publish,
		exec(append([]string{"slipway", "promote", "agent", "1.4.0", "--to", "beta"}, chanFlags(minioSpec)...)...),
		exec(append([]string{"slipway", "promote", "desktop", "1.4.0", "--to", "beta"}, chanFlags(minioSpec)...)...),
		exec(append([]string{"slipway", "plan"}, chanFlags(minioSpec)...)...),
	})
	for _, c := range all {
		if find(c, "withExec", map[string]string{"args": list(append([]string{"slipway", "apply"}, chanFlags(minioSpec)...)...)}) >= 0 {
			t.Error("release applies the channels file: channel changes must come from git")
		}
	}
	// The edited channels file is read from the container after the
	// promotes, and the result holds it with the reports and dist/.
	var fileRead bool
	for _, c := range all {
		if i := find(c, "file", map[string]string{"path": q("/src/release/channels.yaml")}); i > 0 &&
			find(c[:i], "withExec", map[string]string{"args": list(append([]string{"slipway", "promote", "desktop", "1.4.0", "--to", "beta"}, chanFlags(minioSpec)...)...)}) >= 0 {
			fileRead = true
		}
	}
	if !fileRead {
		t.Error("the edited release/channels.yaml is not taken from the container after promote")
	}
	result := lastChain(t, eng)
	want(t, result, []call{
		{"directory", nil},
		{"withFile", map[string]string{"path": q("report.json")}},
		{"withDirectory", map[string]string{"path": q("dist")}},
		{"withFile", map[string]string{"path": q("release/channels.yaml")}},
		{"withNewFile", map[string]string{"path": q("report.txt")}},
		{"id", nil},
	})
	if i := find(result, "withNewFile", nil); i < 0 || !strings.HasPrefix(result[i].args["contents"], q("out:stdout\nProposed change to release/channels.yaml")[:30]) {
		t.Errorf("report.txt = %v, want the release output, then the proposed channel change", result)
	}
}

// TestReleaseRunsEveryTime: two calls with the same arguments send the
// same build but a different per-run value before the publish, so the
// engine runs the publish again (the function itself is +cache="never",
// checked in internal/pipelinecheck).
var fakeID = regexp.MustCompile(`"fake-id-[0-9]+"`)

func TestReleaseRunsEveryTime(t *testing.T) {
	eng := connectFake(t)
	m := New(dag.Directory(), "", "", "", "", "")
	runs := map[string]bool{}
	var builds []string
	for range 2 {
		releaseBeta(t, m, false)
		steps := withExec(t, chains(t, eng), "slipway", "release", "--version", "v1.4.0", "--skip-build", "--store", minioSpec, "--report-file", "/tmp/slipway-report.json", "--image", "--image-repo", "registry.internal/slipway")
		bi := find(steps, "withExec", map[string]string{"args": list("slipway", "release", "--build-only", "--version", "v1.4.0", "--image")})
		if bi < 0 {
			t.Fatal("no build exec")
		}
		// IDs are the stand-in's counters; a real engine's are digests
		// of the same inputs.
		builds = append(builds, fakeID.ReplaceAllString(fmt.Sprint(steps[:bi+1]), `"ID"`))
		for _, c := range steps {
			if c.name == "withEnvVariable" && c.args["name"] == q("SLIPWAY_PIPELINE_RUN") {
				runs[c.args["value"]] = true
			}
		}
		eng.mu.Lock()
		eng.queries = nil
		eng.mu.Unlock()
	}
	if len(runs) != 2 {
		t.Errorf("per-run values %v: want a different one on each call", runs)
	}
	if builds[0] != builds[1] {
		t.Errorf("the build differs between two releases of the same source:\n%s\n%s", builds[0], builds[1])
	}
}

func TestReleaseDryRunWritesNothing(t *testing.T) {
	eng := connectFake(t)
	m := New(dag.Directory(), "", "", "", "", "")
	key := dag.SetSecret("k", "x")
	dir, err := m.Release(context.Background(), "v1.4.0", "beta", "", "releases", "eu-west-3", "", false, false,
		key, key, key, key, key, key, key, key, nil, nil, dag.Directory().File("minisign.pub"), true, true, "", "", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.ID(context.Background()); err != nil {
		t.Fatal(err)
	}
	all := chains(t, eng)
	steps := withExec(t, all, "slipway", "release", "--version", "v1.4.0", "--skip-build", "--store", "s3://releases?region=eu-west-3", "--report-file", "/tmp/slipway-report.json", "--dry-run", "--image")
	want(t, steps, []call{
		{"from", nil},
		{"withMountedCache", map[string]string{"path": q("/var/lib/apt/lists"), "sharing": "LOCKED"}},
		{"withMountedCache", map[string]string{"path": q("/var/cache/apt/archives"), "sharing": "LOCKED"}},
		exec("sh", "-c", aptInstall, "apt-get", "osslsigncode"),
		{"withoutMount", map[string]string{"path": q("/var/lib/apt/lists")}},
		{"withDirectory", nil},
		{"withMountedSecret", map[string]string{"path": q("/run/secrets/slipway/authenticode.p12")}},
		exec("slipway", "release", "--build-only", "--version", "v1.4.0", "--image"),
		exec("slipway", "release", "--version", "v1.4.0", "--skip-build", "--store", "/tmp/dry-run-artifacts", "--image"),
		exec("slipway", "release", "--version", "v1.4.0", "--skip-build", "--store", "s3://releases?region=eu-west-3", "--report-file", "/tmp/slipway-report.json", "--dry-run", "--image"),
		{"stdout", nil},
	})
	for _, c := range all {
		for _, s := range c {
			if s.name == "withExec" && (strings.Contains(s.args["args"], `"apply"`) || strings.Contains(s.args["args"], `"promote"`)) {
				t.Errorf("dry run runs %s", s.args["args"])
			}
		}
	}
	result := lastChain(t, eng)
	if i := find(result, "withNewFile", map[string]string{"path": q("report.txt")}); i < 0 || !strings.Contains(result[i].args["contents"], "dry run: release/channels.yaml would then serve 1.4.0 on beta") {
		t.Errorf("report.txt lacks the channel note: %v", result)
	}
	if find(result, "withFile", map[string]string{"path": q("release/channels.yaml")}) >= 0 {
		t.Error("a dry run returns a channels file")
	}
}

func TestBuildPromoteTestAskEngine(t *testing.T) {
	eng := connectFake(t)
	m := New(dag.Directory(), "", "", "", "", "")
	if _, err := m.Build().ID(context.Background()); err != nil {
		t.Fatal(err)
	}
	signed := withExec(t, chains(t, eng), "slipway", "release", "--snapshot", "--skip-build", "--store", "/tmp/artifacts", "--report-file", "/tmp/report.json")
	want(t, signed, []call{
		env("GOPROXY", "https://proxy.golang.org,direct"),
		exec("slipway", "release", "--build-only", "--snapshot"),
		exec("slipway", "release", "--snapshot", "--skip-build", "--store", "/tmp/artifacts", "--report-file", "/tmp/report.json"),
	})
	want(t, lastChain(t, eng), []call{
		{"directory", map[string]string{"path": q("/tmp/artifacts")}},
		{"withDirectory", map[string]string{"path": q("dist")}},
		{"withFile", map[string]string{"path": q("report.json")}},
		{"withFile", map[string]string{"path": q("keys/cosign.pub")}},
		{"withFile", map[string]string{"path": q("keys/minisign.pub")}},
	})

	key := dag.SetSecret("k", "x")
	if _, err := m.Promote(context.Background(), "", "releases", "us-east-1", "", false, false, key, key, nil, nil, dag.Directory().File("minisign.pub"), true); err != nil {
		t.Fatal(err)
	}
	want(t, lastChain(t, eng), []call{
		{"withSecretVariable", map[string]string{"name": q("AWS_SECRET_ACCESS_KEY")}},
		{"withMountedFile", map[string]string{"path": q("/run/slipway/minisign.pub")}},
		{"withEnvVariable", map[string]string{"name": q("SLIPWAY_PIPELINE_RUN")}},
		exec(append([]string{"slipway", "plan"}, chanFlags("s3://releases?region=us-east-1")...)...),
	})
	if _, err := m.Release(context.Background(), "v1.4.0", "beta", "", "releases", "", "", false, false,
		key, key, key, key, key, key, nil, nil, nil, nil, nil, false, true, "", "", nil, false); err == nil {
		t.Error("release to a channel without the minisign public key accepted")
	}

	if _, err := m.Test(context.Background()); err != nil {
		t.Fatal(err)
	}
	want(t, lastChain(t, eng), []call{
		{"withMountedCache", map[string]string{"path": q("/var/lib/apt/lists"), "sharing": "LOCKED"}},
		exec(append([]string{"sh", "-c", aptInstall, "apt-get"}, testPackages...)...),
		{"withoutMount", map[string]string{"path": q("/var/cache/apt/archives")}},
		{"withDirectory", nil},
		env("CI", "true"),
		exec("bash", "scripts/test.sh"),
	})
}
