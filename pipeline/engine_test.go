//go:build slipway_typecheck

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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
	minisignPlain = "PLAINTEXT-minisign-key-file"
)

func TestReleaseAsksEngine(t *testing.T) {
	eng := connectFake(t)
	m := New(dag.Directory(), "", "https://goproxy.corp", "-mod=mod")
	secret := func(name, plain string) *sdk.Secret { return dag.SetSecret(name, plain) }
	report, err := m.Release(context.Background(), "v1.4.0", "beta",
		"minio.internal:9000", "releases", "us-east-1", "slipway", true, false,
		secret("ak", "AKIAEXAMPLE"), secret("sk", s3SecretPlain),
		secret("ck", "cosign-key-pem"), secret("cp", cosignPlain),
		secret("mk", minisignPlain), secret("mp", "minisign-pw"),
		nil, nil, nil, nil, // no Authenticode, ad-hoc macOS
		secret("tt", "tuf-targets"), secret("to", "tuf-online"),
		dag.Directory().WithNewFile("minisign.pub", "untrusted comment: test\nRWQ=").File("minisign.pub"),
		false)
	if err != nil {
		t.Fatal(err)
	}
	if report != "out:stdout\nout:stdout" {
		t.Errorf("report %q: want the release output, then the channel output", report)
	}
	var containerQueries []string
	for _, query := range eng.all() {
		if !strings.Contains(query, "setSecret") {
			containerQueries = append(containerQueries, query)
		}
	}
	all := strings.Join(containerQueries, "\n")
	for _, plain := range []string{cosignPlain, s3SecretPlain, minisignPlain, "AKIAEXAMPLE"} {
		if strings.Contains(all, plain) {
			t.Errorf("a secret's plaintext reached a container query: %s", plain)
		}
	}
	steps := lastChain(t, eng)
	spec := "s3://releases/slipway?endpoint=minio.internal%3A9000&path-style=true&region=us-east-1"
	want(t, steps, []call{
		{"container", nil},
		{"from", map[string]string{"address": q(DefaultGoImage)}},
		{"withMountedCache", map[string]string{"path": q("/go/pkg/mod")}},
		{"withMountedCache", map[string]string{"path": q("/root/.cache/go-build")}},
		env("GOPROXY", "https://goproxy.corp"),
		env("GOFLAGS", "-mod=mod"),
		{"withDirectory", map[string]string{"path": q("/src")}},
		exec("go", "build", "-trimpath", "-o", "/usr/local/bin/slipway", "./cmd/slipway"),
		{"withSecretVariable", map[string]string{"name": q("AWS_ACCESS_KEY_ID")}},
		{"withSecretVariable", map[string]string{"name": q("AWS_SECRET_ACCESS_KEY")}},
		{"withMountedSecret", map[string]string{"path": q("/run/secrets/slipway/cosign.key")}},
		env("SLIPWAY_COSIGN_KEY", "/run/secrets/slipway/cosign.key"),
		{"withSecretVariable", map[string]string{"name": q("COSIGN_PASSWORD")}},
		{"withMountedSecret", map[string]string{"path": q("/run/secrets/slipway/minisign.key")}},
		{"withSecretVariable", map[string]string{"name": q("SLIPWAY_MINISIGN_PASSWORD")}},
		{"withMountedSecret", map[string]string{"path": q("/run/secrets/slipway/tuf/tuf-targets.key")}},
		{"withMountedSecret", map[string]string{"path": q("/run/secrets/slipway/tuf/tuf-online.key")}},
		{"withMountedFile", map[string]string{"path": q("/run/slipway/minisign.pub")}},
		exec("slipway", "release", "--version", "v1.4.0", "--store", spec),
		exec(append([]string{"slipway", "promote", "agent", "1.4.0", "--to", "beta"}, chanFlags(spec)...)...),
		exec(append([]string{"slipway", "promote", "desktop", "1.4.0", "--to", "beta"}, chanFlags(spec)...)...),
		exec(append([]string{"slipway", "apply"}, chanFlags(spec)...)...),
		{"stdout", nil},
	})
	for _, c := range steps {
		if c.name == "withEnvVariable" && (strings.Contains(c.args["name"], "PASSWORD") || strings.Contains(c.args["name"], "SECRET")) {
			t.Errorf("secret-looking plain variable %v", c.args)
		}
		if c.name == "withExec" && strings.Contains(c.args["args"], "osslsigncode") {
			t.Error("osslsigncode installed without an Authenticode certificate")
		}
	}
	// Publishing never comes from Dagger's cache: a per-run variable comes
	// right before the release exec.
	if i := find(steps, "withExec", map[string]string{"args": list("slipway", "release", "--version", "v1.4.0", "--store", spec)}); i < 1 ||
		steps[i-1].name != "withEnvVariable" || steps[i-1].args["name"] != q("SLIPWAY_PIPELINE_RUN") {
		t.Error("no cache-busting variable right before the release exec")
	}
}

func TestReleaseDryRunWritesNothing(t *testing.T) {
	eng := connectFake(t)
	m := New(dag.Directory(), "", "", "")
	key := dag.SetSecret("k", "x")
	report, err := m.Release(context.Background(), "v1.4.0", "beta", "", "releases", "eu-west-3", "", false, false,
		key, key, key, key, key, key, key, key, nil, nil, nil, nil, dag.Directory().File("minisign.pub"), true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(report, "dry run: beta would then serve v1.4.0") {
		t.Errorf("report %q lacks the channel note", report)
	}
	steps := lastChain(t, eng)
	want(t, steps, []call{
		{"from", nil},
		exec("sh", "-c", `apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" >/dev/null`, "apt-get", "osslsigncode"),
		{"withDirectory", nil},
		{"withMountedSecret", map[string]string{"path": q("/run/secrets/slipway/authenticode.p12")}},
		exec("slipway", "release", "--version", "v1.4.0", "--store", "/tmp/dry-run-artifacts"),
		exec("slipway", "release", "--version", "v1.4.0", "--store", "s3://releases?region=eu-west-3", "--dry-run", "--skip-build"),
		{"stdout", nil},
	})
	for _, c := range steps {
		if c.name == "withExec" && (strings.Contains(c.args["args"], `"apply"`) || strings.Contains(c.args["args"], `"promote"`)) {
			t.Errorf("dry run runs %s", c.args["args"])
		}
	}
}

func TestBuildPromoteTestAskEngine(t *testing.T) {
	eng := connectFake(t)
	m := New(dag.Directory(), "", "", "")
	if _, err := m.Build().ID(context.Background()); err != nil {
		t.Fatal(err)
	}
	want(t, lastChain(t, eng), []call{
		env("GOPROXY", "https://proxy.golang.org,direct"),
		exec("slipway", "release", "--snapshot", "--store", "/tmp/artifacts"),
		{"directory", map[string]string{"path": q("/src/dist")}},
	})

	key := dag.SetSecret("k", "x")
	if _, err := m.Promote(context.Background(), "", "releases", "us-east-1", "", false, false, key, key, nil, nil, dag.Directory().File("minisign.pub"), true); err != nil {
		t.Fatal(err)
	}
	want(t, lastChain(t, eng), []call{
		{"withSecretVariable", map[string]string{"name": q("AWS_SECRET_ACCESS_KEY")}},
		{"withMountedFile", map[string]string{"path": q("/run/slipway/minisign.pub")}},
		exec(append([]string{"slipway", "plan"}, chanFlags("s3://releases?region=us-east-1")...)...),
	})
	if _, err := m.Release(context.Background(), "v1.4.0", "beta", "", "releases", "", "", false, false,
		key, key, key, key, key, key, nil, nil, nil, nil, key, key, nil, false); err == nil {
		t.Error("release to a channel without the minisign public key accepted")
	}

	if _, err := m.Test(context.Background()); err != nil {
		t.Fatal(err)
	}
	want(t, lastChain(t, eng), []call{
		exec("sh", "-c", `apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" >/dev/null`, "apt-get", "npm"),
		{"withDirectory", nil},
		env("CI", "true"),
		exec("bash", "scripts/test.sh"),
	})
}
