package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

func deb(name, version string) store.Software {
	return store.Software{Name: name, Version: version, Source: "deb_packages", Vendor: "Debian"}
}

func names(list []store.InstalledSoftware) string {
	var out []string
	for _, s := range list {
		out = append(out, s.Name+"="+s.Version+"/"+s.Origin)
	}
	return strings.Join(out, " ")
}

func replace(t *testing.T, s store.Store, machineID, origin string, at time.Time, items ...store.Software) store.SoftwareDiff {
	t.Helper()
	d, err := s.ReplaceSoftware(t.Context(), store.SoftwareReport{MachineID: machineID, Origin: origin,
		Hash: fmt.Sprintf("h-%s-%d", origin, at.UnixMilli()), Items: items, At: at})
	must(t, err)
	return d
}

// testSoftwareLists: a first list is a baseline, later lists record what was
// installed and removed, duplicates collapse, the hash is kept per origin.
func testSoftwareLists(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenant(t, s, "t1")
	must(t, s.CreateMachine(ctx, machine("t1", "m1", "fp1")))
	if h, err := s.SoftwareHash(ctx, "m1", store.OriginAgent); err != nil || h != "" {
		t.Fatalf("hash before any list = %q, %v", h, err)
	}
	d := replace(t, s, "m1", store.OriginAgent, t0, deb("bash", "5.2"), deb("curl", "7.88"), deb("curl", "7.88"), deb("Zoë-ü", "1"))
	if !d.Baseline || d.Installed != 0 {
		t.Fatalf("first list diff = %+v, want baseline", d)
	}
	got, err := s.ListMachineSoftware(ctx, "m1")
	must(t, err)
	if n := names(got); n != "bash=5.2/agent curl=7.88/agent Zoë-ü=1/agent" {
		t.Fatalf("list = %s", n)
	}
	if got[0].Vendor != "Debian" || got[0].ID == 0 {
		t.Fatalf("entry = %+v", got[0])
	}
	d = replace(t, s, "m1", store.OriginAgent, t0.Add(time.Hour), deb("bash", "5.2"), deb("curl", "8.0"))
	if d.Baseline || d.Installed != 1 || d.Removed != 2 {
		t.Fatalf("second list diff = %+v", d)
	}
	hist, err := s.ListSoftwareHistory(ctx, "m1", 10)
	must(t, err)
	var hs []string
	for _, h := range hist {
		if !h.At.Equal(t0.Add(time.Hour)) {
			t.Errorf("history at %v", h.At)
		}
		hs = append(hs, h.Change+":"+h.Software.Name+"="+h.Software.Version)
	}
	if j := strings.Join(hs, " "); !strings.Contains(j, "installed:curl=8.0") || !strings.Contains(j, "removed:curl=7.88") ||
		!strings.Contains(j, "removed:Zoë-ü=1") || len(hs) != 3 {
		t.Fatalf("history = %s", j)
	}
	if h, _ := s.SoftwareHash(ctx, "m1", store.OriginAgent); h != fmt.Sprintf("h-agent-%d", t0.Add(time.Hour).UnixMilli()) {
		t.Fatalf("hash = %q", h)
	}
	if h, _ := s.SoftwareHash(ctx, "m1", store.OriginFleet); h != "" {
		t.Fatalf("fleet hash = %q", h)
	}
	n, err := s.PruneSoftwareHistory(ctx, t0.Add(2*time.Hour))
	must(t, err)
	// 3 history rows, then curl=7.88 and Zoë-ü=1: no machine has them and
	// no history names them anymore.
	if n != 5 {
		t.Fatalf("pruned %d, want 5", n)
	}
	// Deleting the machine removes its links, hash and history.
	replace(t, s, "m1", store.OriginAgent, t0.Add(3*time.Hour), deb("bash", "5.3"))
	must(t, s.DeleteMachine(ctx, "m1"))
	if l, err := s.ListMachineSoftware(ctx, "m1"); err != nil || len(l) != 0 {
		t.Fatalf("software of a deleted machine: %v %v", l, err)
	}
	if h, _ := s.SoftwareHash(ctx, "m1", store.OriginAgent); h != "" {
		t.Fatalf("hash of a deleted machine = %q", h)
	}
}

// testSoftwareMerge: Fleet entries the agent also reports (same name and
// source) are hidden, the others show; Fleet's vulnerabilities show on the
// agent's entry of the same version.
func testSoftwareMerge(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenant(t, s, "t1")
	must(t, s.CreateMachine(ctx, machine("t1", "m1", "fp1")))
	fx := store.Software{Name: "Firefox", Version: "127.0", Source: "apps", BundleID: "org.mozilla.firefox",
		Vulnerabilities: []string{"CVE-2024-1", "CVE-2024-2"}}
	old := fx
	old.Version = "126.0"
	replace(t, s, "m1", store.OriginFleet, t0, old, store.Software{Name: "uBlock", Version: "1.5", Source: "firefox_addons"})
	replace(t, s, "m1", store.OriginAgent, t0.Add(time.Minute),
		store.Software{Name: "firefox", Version: "127.0", Source: "apps", BundleID: "org.mozilla.firefox"})
	got, err := s.ListMachineSoftware(ctx, "m1")
	must(t, err)
	if n := names(got); n != "firefox=127.0/agent uBlock=1.5/fleet" {
		t.Fatalf("merged list = %s", n)
	}
	// Fleet now reports the agent's version with its CVEs.
	fx.Name = "firefox"
	replace(t, s, "m1", store.OriginFleet, t0.Add(2*time.Minute), fx)
	got, err = s.ListMachineSoftware(ctx, "m1")
	must(t, err)
	if n := names(got); n != "firefox=127.0/agent" {
		t.Fatalf("merged list = %s", n)
	}
	if v := strings.Join(got[0].Vulnerabilities, ","); v != "CVE-2024-1,CVE-2024-2" {
		t.Fatalf("vulnerabilities on the agent's entry = %q", v)
	}
	// The shadowed Fleet entry does not answer searches; the agent's does.
	hits, err := s.FindSoftware(ctx, store.SoftwareSearch{TenantID: "t1", Name: "FIREFOX"})
	must(t, err)
	if len(hits) != 1 || len(hits[0].Software) != 1 || hits[0].Software[0].Origin != store.OriginAgent {
		t.Fatalf("hits = %+v", hits)
	}
	// The agent's list goes empty: Fleet's entry shows again, as a change.
	replace(t, s, "m1", store.OriginAgent, t0.Add(3*time.Minute))
	got, _ = s.ListMachineSoftware(ctx, "m1")
	if n := names(got); n != "firefox=127.0/fleet" {
		t.Fatalf("list once the agent's list is empty = %s", n)
	}
}

// testSoftwareSearch: by name and version predicate, per tenant, in pages.
func testSoftwareSearch(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenant(t, s, "t1")
	tenant(t, s, "t2")
	for i, v := range []string{"115.0", "127.0", "128.0", "127.0", "130.1"} {
		id := fmt.Sprintf("m%d", i)
		must(t, s.CreateMachine(ctx, machine("t1", id, "fp"+id)))
		replace(t, s, id, store.OriginAgent, t0, deb("firefox", v), deb("bash", "5.2"))
	}
	must(t, s.CreateMachine(ctx, machine("t2", "x1", "fpx")))
	replace(t, s, "x1", store.OriginAgent, t0, deb("firefox", "100"))
	below128 := func(v string) bool { return v < "128" } // enough for these versions
	var ids []string
	after := ""
	for page := 0; page < 5; page++ {
		hits, err := s.FindSoftware(ctx, store.SoftwareSearch{TenantID: "t1", Name: "firefox", Version: below128, After: after, Limit: 2})
		must(t, err)
		if len(hits) == 0 {
			break
		}
		for _, h := range hits {
			if h.TenantID != "t1" || h.Hostname != "host-"+h.MachineID || h.Software[0].Name != "firefox" {
				t.Fatalf("hit = %+v", h)
			}
			ids = append(ids, h.MachineID+"="+h.Software[0].Version)
		}
		after = hits[len(hits)-1].MachineID
	}
	if j := strings.Join(ids, " "); j != "m0=115.0 m1=127.0 m3=127.0" {
		t.Fatalf("machines with firefox < 128 in t1 = %s", j)
	}
	hits, err := s.FindSoftware(ctx, store.SoftwareSearch{Name: "firefox", Version: below128})
	must(t, err)
	if len(hits) != 4 {
		t.Fatalf("every tenant: %d hits, want 4", len(hits))
	}
	if hits, err := s.FindSoftware(ctx, store.SoftwareSearch{Name: "nothing"}); err != nil || len(hits) != 0 {
		t.Fatalf("unknown title: %v %v", hits, err)
	}
	// Many machines of another tenant between two of t1's: the store reads
	// past them (in windows of a few times the page size).
	for i := range 12 {
		id := fmt.Sprintf("y%02d", i)
		must(t, s.CreateMachine(ctx, machine("t2", id, "fp"+id)))
		replace(t, s, id, store.OriginAgent, t0, deb("firefox", "127.0"))
	}
	must(t, s.CreateMachine(ctx, machine("t1", "m9", "fpm9")))
	replace(t, s, "m9", store.OriginAgent, t0, deb("firefox", "127.0")) // same version as the y machines
	ids, after = nil, ""
	for page := 0; page < 6; page++ {
		hits, err := s.FindSoftware(ctx, store.SoftwareSearch{TenantID: "t1", Name: "firefox", Version: below128, After: after, Limit: 1})
		must(t, err)
		if len(hits) == 0 {
			break
		}
		ids = append(ids, hits[0].MachineID)
		after = hits[0].MachineID
	}
	if j := strings.Join(ids, " "); j != "m0 m1 m3 m9" {
		t.Fatalf("t1's machines one by one, past t2's = %s", j)
	}
	hits, err = s.FindSoftware(ctx, store.SoftwareSearch{Name: "firefox", Version: below128, Limit: 500})
	must(t, err)
	if len(hits) != 17 {
		t.Fatalf("every tenant: %d hits, want 17", len(hits))
	}
}

// testSoftwareInvalid: bad reports change nothing.
func testSoftwareInvalid(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenant(t, s, "t1")
	must(t, s.CreateMachine(ctx, machine("t1", "m1", "fp1")))
	replace(t, s, "m1", store.OriginAgent, t0, deb("bash", "5.2"))
	tooMany := make([]store.Software, store.MaxSoftwareItems+1)
	for i := range tooMany {
		tooMany[i] = deb(fmt.Sprintf("p%d", i), "1")
	}
	for name, items := range map[string][]store.Software{
		"control char version": {deb("bash", "5.3\x00")},
		"long version":         {deb("bash", strings.Repeat("9", store.MaxSoftwareVersion+1))},
		"invalid utf-8":        {deb("bash\xff", "1")},
		"no name":              {deb("", "1")},
		"bad source":           {{Name: "x", Source: "Deb Packages"}},
		"bad cve":              {{Name: "x", Source: "apps", Vulnerabilities: []string{"<script>"}}},
		"too many":             tooMany,
	} {
		_, err := s.ReplaceSoftware(ctx, store.SoftwareReport{MachineID: "m1", Origin: store.OriginAgent, Hash: "bad", Items: items, At: t0})
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	_, err := s.ReplaceSoftware(ctx, store.SoftwareReport{MachineID: "nope", Origin: store.OriginAgent, Hash: "h", At: t0})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown machine: %v", err)
	}
	got, _ := s.ListMachineSoftware(ctx, "m1")
	if h, _ := s.SoftwareHash(ctx, "m1", store.OriginAgent); names(got) != "bash=5.2/agent" || h != fmt.Sprintf("h-agent-%d", t0.UnixMilli()) {
		t.Fatalf("after bad reports: %s %q", names(got), h)
	}
}

// testSoftwareCollect: software rows no machine has (shadowed Fleet links
// count) and no history row names are deleted with the history; the others
// stay; a collected title reported again is stored again.
func testSoftwareCollect(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenant(t, s, "t1")
	must(t, s.CreateMachine(ctx, machine("t1", "m1", "fp1")))
	must(t, s.CreateMachine(ctx, machine("t1", "m2", "fp2")))
	replace(t, s, "m1", store.OriginAgent, t0, deb("a", "1"), deb("b", "1"))
	replace(t, s, "m2", store.OriginAgent, t0, deb("b", "1"), deb("c", "1"))
	// Fleet reports a=0.9 on m1: shadowed by the agent's a=1, still kept.
	replace(t, s, "m1", store.OriginFleet, t0, deb("a", "0.9"))
	prune := func(before time.Time, want int64) {
		t.Helper()
		n, err := s.PruneSoftwareHistory(ctx, before)
		must(t, err)
		if n != want {
			t.Fatalf("prune before %v: %d rows, want %d", before.Sub(t0), n, want)
		}
	}
	prune(t0.Add(time.Hour), 0) // every row in use
	// m2 drops c: the history still names it.
	replace(t, s, "m2", store.OriginAgent, t0.Add(time.Hour), deb("b", "1"))
	prune(t0.Add(time.Hour), 0)
	// Once the history of that hour goes, so does c (1 history row + 1 row).
	prune(t0.Add(2*time.Hour), 2)
	prune(t0.Add(2*time.Hour), 0)
	// The shadowed Fleet row survived: it shows once the agent's a goes.
	replace(t, s, "m1", store.OriginAgent, t0.Add(3*time.Hour), deb("b", "1"))
	got, err := s.ListMachineSoftware(ctx, "m1")
	must(t, err)
	if n := names(got); n != "a=0.9/fleet b=1/agent" {
		t.Fatalf("m1 after the collection = %s", n)
	}
	// c comes back (its cached ID is gone): stored again, searchable.
	replace(t, s, "m2", store.OriginAgent, t0.Add(4*time.Hour), deb("b", "1"), deb("c", "1"))
	hits, err := s.FindSoftware(ctx, store.SoftwareSearch{TenantID: "t1", Name: "c"})
	must(t, err)
	if len(hits) != 1 || hits[0].MachineID != "m2" || hits[0].Software[0].Version != "1" {
		t.Fatalf("c after it came back: %+v", hits)
	}
	// Deleting the machines leaves a=1, a=0.9, b and c to the collector
	// (history rows go with their machine).
	must(t, s.DeleteMachine(ctx, "m1"))
	must(t, s.DeleteMachine(ctx, "m2"))
	prune(t0, 4)
}
