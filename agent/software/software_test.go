package software

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"howett.net/plist"

	"github.com/slipwayhq/slipway/agent/osquery"
	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/machineapi"
)

// TestDpkgMatchesDpkgQuery: on a Debian machine the native reader finds
// exactly the installed packages and versions dpkg-query reports.
func TestDpkgMatchesDpkgQuery(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("dpkg is Linux-only")
	}
	bin := testenv.Tool(t, "dpkg-query", "a Debian or Ubuntu machine")
	out, err := exec.CommandContext(t.Context(), bin, "-W", "-f", "${Package}\t${Version}\t${db:Status-Status}\n").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) == 3 && f[2] == "installed" {
			want[f[0]+"="+f[1]] = true
		}
	}
	items, err := Dpkg{}.Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, it := range items {
		got[it.Name+"="+it.Version] = true
		if it.Source != "deb_packages" {
			t.Fatalf("source %q", it.Source)
		}
	}
	if len(want) < 10 || len(got) != len(want) {
		t.Fatalf("native %d packages, dpkg-query %d installed", len(got), len(want))
	}
	for k := range want {
		if !got[k] {
			t.Errorf("dpkg-query has %s, the native reader does not", k)
		}
	}
}

func TestParseDpkgStatus(t *testing.T) {
	status := "Package: a\nStatus: install ok installed\nVersion: 1:2.0-1\nMaintainer: Ana <a@x>\nDescription: x\n long\n .\n\n" +
		"Package: b\nStatus: deinstall ok config-files\nVersion: 1\n\n" +
		"Package: c\nStatus: install ok installed\nVersion: 3\n"
	items, err := ParseDpkgStatus(t.Context(), strings.NewReader(status))
	if err != nil || len(items) != 2 || items[0].Version != "1:2.0-1" || items[0].Vendor != "Ana <a@x>" || items[1].Name != "c" {
		t.Fatalf("%+v %v", items, err)
	}
	for _, bad := range []string{" leading continuation\n", "Package a\n"} {
		if _, err := ParseDpkgStatus(t.Context(), strings.NewReader(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestParseRPM(t *testing.T) {
	b, _ := os.ReadFile("testdata/rpm-qa.txt")
	items, err := ParseRPM(b)
	if err != nil || len(items) != 3 {
		t.Fatalf("%+v %v", items, err)
	}
	if items[0].Version != "5.1.8-9.el9" || items[1].Version != "1:3.0.7-27.el9_4" || items[2].Vendor != "" ||
		items[0].InstalledAt.Unix() != 1718191516 {
		t.Fatalf("%+v", items)
	}
	if _, err := ParseRPM([]byte("bash\t0\t5\n")); err == nil {
		t.Fatal("short line parsed")
	}
	// The same packages from osquery's rpm_packages collapse with these.
	fromOsquery := FromOsquery("rpm_packages", rows(t, "rpm_packages"))
	for i := range items {
		if fromOsquery[i].Version != items[i].Version || fromOsquery[i].Name != items[i].Name {
			t.Errorf("osquery %+v vs rpm %+v", fromOsquery[i], items[i])
		}
	}
}

func TestMacApps(t *testing.T) {
	xmlPlist, err := os.ReadFile("testdata/Info.plist")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if _, err := plist.Unmarshal(xmlPlist, &doc); err != nil {
		t.Fatal(err)
	}
	binPlist, err := plist.Marshal(doc, plist.BinaryFormat)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, data := range map[string][]byte{"Firefox.app": xmlPlist, "Firefox Binary.app": binPlist, "Broken.app": []byte("<plist><dict><key>")} {
		must(t, os.MkdirAll(filepath.Join(dir, name, "Contents"), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, name, "Contents", "Info.plist"), data, 0o644))
	}
	must(t, os.MkdirAll(filepath.Join(dir, "NoPlist.app"), 0o755))
	items, err := Apps{Dirs: []string{dir, filepath.Join(dir, "missing")}}.Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 {
		t.Fatalf("%d apps: %+v", len(items), items)
	}
	for _, it := range items {
		if it.Version != "127.0.2" || it.BundleID != "org.mozilla.firefox" || it.Source != "apps" || !strings.HasSuffix(it.Name, ".app") {
			t.Errorf("%+v", it)
		}
	}
	if _, err := ParseInfoPlist(make([]byte, maxPlistBytes+1), "x.app"); err == nil {
		t.Fatal("oversized plist parsed")
	}
}

func TestWindowsPrograms(t *testing.T) {
	b, _ := os.ReadFile("testdata/uninstall.json")
	var progs []Program
	must(t, json.Unmarshal(b, &progs))
	items := FromPrograms(progs)
	var got []string
	for _, it := range items {
		got = append(got, it.Name+"="+it.Version+"@"+it.Path)
	}
	want := `7-Zip 23.01 (x64 edition)=23.01.00.0@C:\Program Files\7-Zip ` +
		`Mozilla Firefox (x64 en-US)=127.0.2@C:\Program Files\Mozilla Firefox ` +
		`Git=2.45.2@C:\Program Files\Git ` +
		`Zoom Workplace=6.1.1 (41705)@C:\Users\ana\AppData\Roaming\Zoom\bin`
	if j := strings.Join(got, " "); j != want {
		t.Fatalf("programs:\n%s\nwant\n%s", j, want)
	}
	if items[0].InstalledAt == nil || items[0].InstalledAt.Format("2006-01-02") != "2024-03-12" || items[3].InstalledAt != nil {
		t.Fatalf("install dates: %v %v", items[0].InstalledAt, items[3].InstalledAt)
	}
}

func rows(t *testing.T, table string) []osquery.Row {
	t.Helper()
	b, err := os.ReadFile("testdata/osquery_" + table + ".json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := osquery.ParseLimits(b, osqueryLimits)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestOsqueryTables(t *testing.T) {
	for table, want := range map[string]string{
		"deb_packages":      "adduser=3.134 firefox-esr=115.12.0esr-1~deb12u1 git=1:2.39.2-1.1",
		"rpm_packages":      "bash=5.1.8-9.el9 openssl=1:3.0.7-27.el9_4 gpg-pubkey=350d275d-6431f40c",
		"apps":              "Google Chrome.app=125.0.6422.113 Safari.app=17.5 NoShort.app=42",
		"programs":          "7-Zip 23.01 (x64 edition)=23.01.00.0 Mozilla Firefox (x64 en-US)=127.0.2",
		"homebrew_packages": "jq=1.7.1 firefox=127.0.2",
	} {
		var got []string
		for _, it := range FromOsquery(table, rows(t, table)) {
			if it.Source != table {
				t.Errorf("%s: source %q", table, it.Source)
			}
			got = append(got, it.Name+"="+it.Version)
		}
		if j := strings.Join(got, " "); j != want {
			t.Errorf("%s: %s, want %s", table, j, want)
		}
	}
	if _, err := osquery.Parse([]byte(`[{"name":"x","version":1}]`)); err == nil {
		t.Fatal("a number value parsed")
	}
}

// TestOsquerySourceRunsOsqueryi: the source runs an osqueryi stand-in
// (a script printing the fixture) and maps its output.
func TestOsquerySourceRunsOsqueryi(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("shell script stand-in")
	}
	dir := t.TempDir()
	fixture, _ := filepath.Abs("testdata/osquery_deb_packages.json")
	script := filepath.Join(dir, "osqueryi")
	must(t, os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = --json ] || exit 2\ncat '"+fixture+"'\n"), 0o755))
	items, err := Osquery{Bin: script, Tables: []string{"deb_packages", "nope"}}.Collect(t.Context())
	if len(items) != 3 || err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("%d items, err %v", len(items), err)
	}
}

type fakeSource struct {
	name  string
	items []Item
	err   error
	hang  bool
	panic bool
}

func (f fakeSource) Name() string { return f.name }
func (f fakeSource) Collect(ctx context.Context) ([]Item, error) {
	if f.panic {
		panic("boom")
	}
	if f.hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return f.items, f.err
}

// TestCollect: failing, hanging and panicking sources do not fail the
// list; duplicates collapse; fields are cleaned; the list is bounded.
func TestCollect(t *testing.T) {
	ok := fakeSource{name: "ok", items: []Item{
		{Name: "b", Version: "1", Source: "deb_packages"},
		{Name: "a", Version: " 2\x00 ", Source: "deb_packages"},
		{Name: "", Version: "1", Source: "deb_packages"},
		{Name: strings.Repeat("é", 200), Version: strings.Repeat("1", 300), Source: "deb_packages"},
	}}
	dup := fakeSource{name: "dup", items: []Item{{Name: "b", Version: "1", Source: "deb_packages"}}, err: errors.New("partly failed")}
	l := Collect(t.Context(), Options{Timeout: 50 * time.Millisecond, Sources: []Source{
		ok, dup, fakeSource{name: "hang", hang: true}, fakeSource{name: "panic", panic: true},
	}})
	if len(l.Items) != 3 || l.Items[0].Name != "a" || l.Items[0].Version != "2" || l.Truncated {
		t.Fatalf("%+v", l.Items)
	}
	if len(l.Items[2].Name) > maxName || len(l.Items[2].Version) != maxVersion {
		t.Fatalf("not cut: %d %d", len(l.Items[2].Name), len(l.Items[2].Version))
	}
	if len(l.Errors) != 3 || l.Errors["hang"] == "" || !strings.Contains(l.Errors["panic"], "boom") {
		t.Fatalf("errors %v", l.Errors)
	}
	if l.Hash != machineapi.SoftwareHash(l.Items) {
		t.Fatal("hash")
	}
	many := make([]Item, machineapi.MaxSoftwareItems+5)
	for i := range many {
		many[i] = Item{Name: fmt.Sprintf("p%05d", i), Version: "1", Source: "deb_packages"}
	}
	l = Collect(t.Context(), Options{Sources: []Source{fakeSource{name: "many", items: many}}})
	if len(l.Items) != machineapi.MaxSoftwareItems || !l.Truncated || l.Items[len(l.Items)-1].Name != "p09999" {
		t.Fatalf("%d items, truncated %v", len(l.Items), l.Truncated)
	}
	if got := sourceNames(l.Items); len(got) != 1 {
		t.Fatal(got)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
