package pipelinecheck

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
)

const engineVersion = "v0.19.7"

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// daggerJSON mirrors the fields of Dagger's ModuleConfig that matter here.
type daggerJSON struct {
	Name          string `json:"name"`
	EngineVersion string `json:"engineVersion"`
	SDK           struct {
		Source string `json:"source"`
	} `json:"sdk"`
	Source  string   `json:"source"`
	Include []string `json:"include"`
	Codegen *struct {
		AutomaticGitignore *bool `json:"automaticGitignore"`
	} `json:"codegen"`
}

func TestDaggerJSON(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "dagger.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var cfg daggerJSON
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("dagger.json: %v", err)
	}
	if cfg.Name != "slipway" || cfg.EngineVersion != engineVersion || cfg.SDK.Source != "go" || cfg.Source != "pipeline" {
		t.Errorf("dagger.json = %+v; want name slipway, engineVersion %s, sdk go, source pipeline", cfg, engineVersion)
	}
	// The hand-kept pipeline/.gitignore (with its typecheck exception) must
	// not be rewritten by `dagger develop`.
	if cfg.Codegen == nil || cfg.Codegen.AutomaticGitignore == nil || *cfg.Codegen.AutomaticGitignore {
		t.Error("dagger.json: codegen.automaticGitignore must be false")
	}
	if len(cfg.Include) != 0 {
		t.Errorf("dagger.json include %v: the module must not read root files (keep it free of project imports)", cfg.Include)
	}
}

func TestPipelineGoMod(t *testing.T) {
	path := filepath.Join(repoRoot(t), "pipeline", "go.mod")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mf, err := modfile.Parse(path, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if mf.Module.Mod.Path != "dagger/slipway" {
		t.Errorf("pipeline module path %q, want dagger/slipway (the Go SDK requires it)", mf.Module.Mod.Path)
	}
	var sdk string
	for _, r := range mf.Require {
		if r.Mod.Path == "dagger.io/dagger" {
			sdk = r.Mod.Version
		}
		if strings.HasPrefix(r.Mod.Path, "github.com/slipwayhq/slipway") {
			t.Errorf("pipeline requires %s: keep the module free of project imports", r.Mod.Path)
		}
	}
	if sdk != engineVersion {
		t.Errorf("pipeline requires dagger.io/dagger %q, want %s (the engineVersion)", sdk, engineVersion)
	}
}

// TestPipelineSource checks properties of the module source that the engine
// would only reveal at run time.
func TestPipelineSource(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "pipeline")
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s: %v", dir, err)
	}
	var src strings.Builder
	consts := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(data)
		file, err := parser.ParseFile(fset, f, data, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if vs, ok := n.(*ast.ValueSpec); ok && len(vs.Values) == 1 {
				if lit, ok := vs.Values[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					consts[vs.Names[0].Name], _ = strconv.Unquote(lit.Value)
				}
			}
			return true
		})
	}
	text := src.String()
	img := consts["DefaultGoImage"]
	if !regexp.MustCompile(`^golang:[0-9.]+-\w+@sha256:[0-9a-f]{64}$`).MatchString(img) {
		t.Errorf("DefaultGoImage %q is not pinned by digest", img)
	}
	if !strings.Contains(text, `+default="`+img+`"`) {
		t.Errorf("New's +default for goImage differs from DefaultGoImage %q", img)
	}
	// The container builds with the Go every script exports (GOTOOLCHAIN).
	tc := consts["DefaultGoToolchain"]
	if !strings.Contains(text, `+default="`+tc+`"`) {
		t.Errorf("New's +default for goToolchain differs from DefaultGoToolchain %q", tc)
	}
	for _, script := range []string{".ci/run", "scripts/test.sh", "scripts/tools.sh", "scripts/govulncheck.sh"} {
		data, err := os.ReadFile(filepath.Join(repoRoot(t), script))
		if err != nil {
			t.Fatal(err)
		}
		if m := regexp.MustCompile(`(?m)^export GOTOOLCHAIN=(\S+)`).FindSubmatch(data); m == nil || string(m[1]) != tc {
			t.Errorf("%s does not export GOTOOLCHAIN=%s (DefaultGoToolchain)", script, tc)
		}
	}
	for _, want := range []string{`+defaultPath="/"`, `+ignore=[`, "func New(", "func (m *Slipway) Build(",
		"func (m *Slipway) Release(", "func (m *Slipway) Promote(", "func (m *Slipway) Test("} {
		if !strings.Contains(text, want) {
			t.Errorf("pipeline source lacks %q", want)
		}
	}
	// A secret's plaintext must never be read into the module (it would end
	// up in plain env, args or logs).
	if strings.Contains(text, ".Plaintext(") {
		t.Error("pipeline reads a secret's plaintext")
	}
}

// TestPipelineTypechecks compiles, vets and unit-tests the module against
// dagger.io/dagger v0.19.7 under the slipway_typecheck tag — or, where
// `dagger develop` generated the real bindings, without the tag.
func TestPipelineTypechecks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the pipeline module")
	}
	dir := filepath.Join(repoRoot(t), "pipeline")
	args := []string{"-tags", "slipway_typecheck"}
	if _, err := os.Stat(filepath.Join(dir, "dagger.gen.go")); err == nil {
		args = nil // generated bindings present: the tag would collide with them
	}
	for _, sub := range []string{"vet", "test"} {
		cmd := exec.Command("go", append(append([]string{sub}, args...), "./...")...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s %v in pipeline/: %v\n%s", sub, args, err, out)
		}
	}
}

// pipelineFuncs parses the module's source and returns the doc comment of
// each method of Slipway, and the string literals of testPackages.
func pipelineFuncs(t *testing.T) (docs map[string]string, testPackages []string) {
	t.Helper()
	docs = map[string]string{}
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "pipeline", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		file, err := parser.ParseFile(fset, f, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv != nil {
					docs[d.Name.Name] = d.Doc.Text()
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					vs, ok := spec.(*ast.ValueSpec)
					if !ok || vs.Names[0].Name != "testPackages" {
						continue
					}
					for _, e := range vs.Values[0].(*ast.CompositeLit).Elts {
						s, _ := strconv.Unquote(e.(*ast.BasicLit).Value)
						testPackages = append(testPackages, s)
					}
				}
			}
		}
	}
	return docs, testPackages
}

// TestPublishingUncached: the functions that write to storage carry the
// Go SDK's +cache="never" pragma (read by v0.19.7's codegen from the doc
// comment, cmd/codegen/generator/go/templates/module_funcs.go), so the
// engine never answers them from its function cache; Build stays cached.
func TestPublishingUncached(t *testing.T) {
	docs, _ := pipelineFuncs(t)
	never := regexp.MustCompile(`(?m)^\+cache="never"$`)
	for name, want := range map[string]bool{"Release": true, "Promote": true, "Build": false, "Test": false} {
		doc, ok := docs[name]
		if !ok {
			t.Fatalf("no method %s", name)
		}
		if got := never.MatchString(doc); got != want {
			t.Errorf("%s: +cache=\"never\" pragma %v, want %v", name, got, want)
		}
	}
}

// TestTestPackagesMatchTools: the pipeline's Test pre-installs exactly the
// Debian packages scripts/tools.sh asks for (plus npm), so tools.sh runs no
// apt-get in the container.
func TestTestPackagesMatchTools(t *testing.T) {
	_, pkgs := pipelineFuncs(t)
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "scripts", "tools.sh"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"npm"}
	for _, m := range regexp.MustCompile(`(?m)^\s*\w+\)\s*apt_pkgs ([^;]+);`).FindAllStringSubmatch(string(data), -1) {
		want = append(want, strings.Fields(m[1])...)
	}
	if len(want) < 2 {
		t.Fatal("no apt_pkgs lines found in scripts/tools.sh")
	}
	slices.Sort(want)
	slices.Sort(pkgs)
	if !slices.Equal(pkgs, want) {
		t.Errorf("pipeline testPackages %v, scripts/tools.sh (+npm) %v", pkgs, want)
	}
}
