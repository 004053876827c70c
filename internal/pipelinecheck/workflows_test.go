package pipelinecheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// workflow is the part of a GitHub Actions workflow these checks read.
type workflow struct {
	On          map[string]any `yaml:"on"`
	Concurrency struct {
		Group string `yaml:"group"`
	} `yaml:"concurrency"`
	Jobs map[string]struct {
		Steps []struct {
			Name string            `yaml:"name"`
			Uses string            `yaml:"uses"`
			Run  string            `yaml:"run"`
			Env  map[string]string `yaml:"env"`
			With map[string]string `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

func loadWorkflow(t *testing.T, name string) (workflow, string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), ".github", "workflows", name))
	if err != nil {
		t.Fatal(err)
	}
	var w workflow
	if err := yaml.Unmarshal(data, &w); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(w.Jobs) == 0 {
		t.Fatalf("%s: no jobs", name)
	}
	return w, string(data)
}

var secretRef = regexp.MustCompile(`\$\{\{\s*secrets\.`)

// checkSteps: secrets only enter steps through env (never inlined into a
// script or an argument), and every Dagger step uses the official action at
// the engine version of dagger.json with the wanted function.
func checkSteps(t *testing.T, name string, w workflow, wantCall string) {
	t.Helper()
	var daggerSteps int
	for job, j := range w.Jobs {
		for _, s := range j.Steps {
			if secretRef.MatchString(s.Run) {
				t.Errorf("%s/%s step %q inlines a secret into its script", name, job, s.Name)
			}
			for k, v := range s.With {
				if secretRef.MatchString(v) {
					t.Errorf("%s/%s step %q passes a secret as input %s", name, job, s.Name, k)
				}
			}
			if !strings.HasPrefix(s.Uses, "dagger/dagger-for-github@") {
				continue
			}
			daggerSteps++
			if s.With["version"] != strings.TrimPrefix(engineVersion, "v") || s.With["verb"] != "call" {
				t.Errorf("%s: dagger step version %q verb %q, want %s call", name, s.With["version"], s.With["verb"], engineVersion)
			}
		}
	}
	if wantCall != "" && daggerSteps == 0 {
		t.Errorf("%s: no dagger/dagger-for-github step", name)
	}
}

func TestReleaseWorkflow(t *testing.T) {
	w, text := loadWorkflow(t, "release.yml")
	push, _ := w.On["push"].(map[string]any)
	if tags, _ := push["tags"].([]any); len(tags) != 1 || tags[0] != "v*" {
		t.Errorf("release.yml must run on v* tags, got %v", push)
	}
	checkSteps(t, "release.yml", w, "release")
	for _, want := range []string{`args="release --version=$VERSION --channel=beta"`, "--s3-bucket=", "--cosign-key=env://", "--minisign-key=env://", "--minisign-pub=",
		// one call returns every output; the channel change becomes a pull request
		`args+=" export --path=$RUNNER_TEMP/release-out"`, `scripts/channels-pr.sh "$RUNNER_TEMP/release-out" "$VERSION" beta`,
		"pull-requests: write"} {
		if !strings.Contains(text, want) {
			t.Errorf("release.yml lacks %q", want)
		}
	}
	// Release never applies a channel change, so it needs no TUF key.
	for _, bad := range []string{"--tuf-", "TUF_", " apply"} {
		if strings.Contains(text, bad) {
			t.Errorf("release.yml mentions %q: channel changes are applied only by promote.yml", bad)
		}
	}
}

// tufGroup is the concurrency group of every workflow that writes TUF
// metadata.
const tufGroup = "slipway-tuf"

func TestStorageMaintenanceWorkflow(t *testing.T) {
	w, text := loadWorkflow(t, "storage-maintenance.yml")
	if _, ok := w.On["schedule"]; !ok {
		t.Error("storage-maintenance.yml must run on a schedule")
	}
	if w.Concurrency.Group != tufGroup {
		t.Errorf("storage-maintenance.yml concurrency group %q, want %s", w.Concurrency.Group, tufGroup)
	}
	checkSteps(t, "storage-maintenance.yml", w, "")
	for _, want := range []string{" tuf refresh ", " plan --detailed-exitcode ", "if [[ $rc == 2 ]]"} {
		if !strings.Contains(text, want) {
			t.Errorf("storage-maintenance.yml lacks %q", want)
		}
	}
}

// usesLine is a step's `uses:` with its ref and the comment after it.
var usesLine = regexp.MustCompile(`(?m)^\s*-?\s*uses:\s*([^@\s]+)@(\S+)(.*)$`)

// TestActionsPinned: every action is pinned by a full commit SHA, with the
// tag it stands for in a comment (tags can be moved; commits cannot).
func TestActionsPinned(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot(t), ".github", "workflows", "*.yml"))
	if err != nil || len(files) < 4 {
		t.Fatalf("workflows: %v %v", files, err)
	}
	sha := regexp.MustCompile(`^[0-9a-f]{40}$`)
	tag := regexp.MustCompile(`^\s*#\s*v[0-9]+\.[0-9]+\.[0-9]+\b`)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		matches := usesLine.FindAllStringSubmatch(string(data), -1)
		for _, m := range matches {
			if !sha.MatchString(m[2]) || !tag.MatchString(m[3]) {
				t.Errorf("%s: %s@%s%s: pin by commit SHA with the tag in a comment", filepath.Base(f), m[1], m[2], m[3])
			}
		}
	}
}

func TestPromoteWorkflow(t *testing.T) {
	w, text := loadWorkflow(t, "promote.yml")
	push, _ := w.On["push"].(map[string]any)
	if paths, _ := push["paths"].([]any); len(paths) != 1 || paths[0] != "release/channels.yaml" {
		t.Errorf("promote.yml must run when release/channels.yaml changes, got %v", push)
	}
	if branches, _ := push["branches"].([]any); len(branches) != 1 || branches[0] != "main" {
		t.Errorf("promote.yml must apply on main only, got %v", push)
	}
	checkSteps(t, "promote.yml", w, "promote")
	// Applies share the TUF writers' group; pull request plans do not (a
	// pending plan must not cancel a pending apply).
	if !strings.Contains(w.Concurrency.Group, "github.event_name == 'push' && '"+tufGroup+"'") {
		t.Errorf("promote.yml concurrency group %q: applies (push) must use %s", w.Concurrency.Group, tufGroup)
	}
	for _, want := range []string{`args="promote `, "--minisign-pub=", "--dry-run"} {
		if !strings.Contains(text, want) {
			t.Errorf("promote.yml lacks %q", want)
		}
	}
}

func TestCIWorkflow(t *testing.T) {
	w, _ := loadWorkflow(t, "ci.yml")
	if _, ok := w.On["push"]; !ok {
		t.Error("ci.yml must run on push")
	}
	if _, ok := w.On["pull_request"]; !ok {
		t.Error("ci.yml must run on pull_request")
	}
	checkSteps(t, "ci.yml", w, "")
	var runsTests bool
	for _, j := range w.Jobs {
		for _, s := range j.Steps {
			runsTests = runsTests || strings.Contains(s.Run, "scripts/test.sh")
		}
	}
	if !runsTests {
		t.Error("ci.yml does not run scripts/test.sh")
	}
}
