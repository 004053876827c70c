package server_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/machineapi"
	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/store"
)

func item(name, version string) machineapi.SoftwareItem {
	return machineapi.SoftwareItem{Name: name, Version: version, Source: "deb_packages", Vendor: "Debian"}
}

func upload(items ...machineapi.SoftwareItem) machineapi.SoftwareUpload {
	return machineapi.SoftwareUpload{Hash: machineapi.SoftwareHash(items), Software: items}
}

func gz(t *testing.T, v any) []byte {
	t.Helper()
	b, err := machineapi.GzipJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (e *env) machineSoftware(id string) string {
	e.t.Helper()
	list, err := e.st.ListMachineSoftware(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, s := range list {
		out = append(out, s.Name+"="+s.Version+"/"+s.Origin)
	}
	return strings.Join(out, " ")
}

// TestSoftwareHeartbeatAndUpload: the heartbeat asks for the list only when
// the server lacks its hash; the upload (gzip, through the real client)
// stores it; a later change shows in the history; admins search it and
// the machine's session endpoint includes it.
func TestSoftwareHeartbeatAndUpload(t *testing.T) {
	e := newEnv(t)
	m := e.register(e.secret, "h1", "S1")
	first := upload(item("firefox", "127.0"), item("bash", "5.2"), item("curl", "7.88.1"))
	hb := func(hash string) map[string]any {
		return expect(t, e.do("POST", "/api/machines/heartbeat", m.Token, map[string]any{"status": "ok", "softwareHash": hash}),
			http.StatusOK).JSON(t)
	}
	if hb(first.Hash)["softwareNeeded"] != true {
		t.Fatal("a new hash did not ask for the list")
	}
	client, err := machineapi.New(e.ts.URL, machineapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.UploadSoftware(t.Context(), m.Token, first)
	if err != nil || res.Stored != 3 || res.Hash != first.Hash {
		t.Fatalf("upload: %+v %v", res, err)
	}
	if got := hb(first.Hash); got["softwareNeeded"] != nil {
		t.Fatalf("unchanged hash asked again: %v", got)
	}
	// Removing curl and upgrading firefox: history, and the search sees it.
	e.clock.Add(time.Hour)
	second := upload(item("firefox", "128.0.2"), item("bash", "5.2"))
	if hb(second.Hash)["softwareNeeded"] != true {
		t.Fatal("a changed hash did not ask for the list")
	}
	if res, err := client.UploadSoftware(t.Context(), m.Token, second); err != nil || res.Installed != 1 || res.Removed != 2 {
		t.Fatalf("second upload: %+v %v", res, err)
	}
	hist := expect(t, e.do("GET", "/api/admin/machines/"+m.ID+"/software/history", e.admin, nil), http.StatusOK).JSON(t)
	if b, _ := json.Marshal(hist["items"]); !strings.Contains(string(b), `"change":"removed","name":"curl","source":"deb_packages","version":"7.88.1"`) {
		t.Fatalf("history: %s", b)
	}
	other := e.register(e.secret, "h2", "S2")
	if _, err := client.UploadSoftware(t.Context(), other.Token, upload(item("Firefox", "115.12esr"))); err != nil {
		t.Fatal(err)
	}
	search := func(q string) []string {
		r := expect(t, e.do("GET", "/api/admin/software?q="+url.QueryEscape(q), e.admin, nil), http.StatusOK).JSON(t)
		var out []string
		for _, it := range r["items"].([]any) {
			h := it.(map[string]any)
			out = append(out, h["hostname"].(string)+":"+h["software"].([]any)[0].(map[string]any)["version"].(string))
		}
		return out
	}
	if got := fmt.Sprint(search("firefox < 128")); got != "[h2:115.12esr]" {
		t.Fatalf("firefox < 128: %s", got)
	}
	if got := fmt.Sprint(search("FireFox >= 115")); !strings.Contains(got, "h1:128.0.2") || !strings.Contains(got, "h2:115.12esr") {
		t.Fatalf("firefox >= 115: %s", got)
	}
	expect(t, e.do("GET", "/api/admin/software?q="+url.QueryEscape("< 128"), e.admin, nil), http.StatusBadRequest)
	me := expect(t, e.do("GET", "/api/machines/me?include=software", m.Token, nil), http.StatusOK).JSON(t)
	if b, _ := json.Marshal(me["software"]); !strings.Contains(string(b), `"name":"firefox","origin":"agent","source":"deb_packages","vendor":"Debian","version":"128.0.2"`) {
		t.Fatalf("me software: %s", b)
	}
	if me := expect(t, e.do("GET", "/api/machines/me", m.Token, nil), http.StatusOK).JSON(t); me["software"] != nil {
		t.Fatal("software without include=software")
	}
	page := expect(t, e.do("GET", "/api/admin/machines/"+m.ID+"/software?q=BAS&sort=version&order=desc", e.admin, nil), http.StatusOK).JSON(t)
	if page["total"].(float64) != 1 {
		t.Fatalf("filtered page: %v", page)
	}
	// A scoped admin of another tenant sees neither.
	expect(t, e.do("POST", "/api/admin/tenants", e.admin, map[string]any{"id": "other", "name": "Other"}), http.StatusCreated)
	scoped := e.scopedAdmin("other")
	r := expect(t, e.do("GET", "/api/admin/software?q=firefox", scoped, nil), http.StatusOK).JSON(t)
	if len(r["items"].([]any)) != 0 {
		t.Fatalf("other tenant's admin: %v", r)
	}
	expect(t, e.do("GET", "/api/admin/machines/"+m.ID+"/software", scoped, nil), http.StatusNotFound)
}

// TestSoftwareUploadBadInput: garbage, oversize and truncated uploads get
// a 4xx and change nothing.
func TestSoftwareUploadBadInput(t *testing.T) {
	e := newEnv(t)
	m := e.register(e.secret, "h1", "S1")
	good := upload(item("bash", "5.2"))
	expect(t, e.do("POST", "/api/machines/software", m.Token, gz(t, good), "Content-Encoding", "gzip"), http.StatusOK)
	many := make([]machineapi.SoftwareItem, store.MaxSoftwareItems+1)
	for i := range many {
		many[i] = item(fmt.Sprintf("pkg-%05d", i), "1.0")
	}
	bad := upload(item("bash", "5.3"))
	bad.Software[0].Version = "5.3\u0007"
	long := upload(item("bash", strings.Repeat("1.", 100)))
	whole := gz(t, upload(item("bash", "5.3"), item("curl", "8")))
	var huge bytes.Buffer // 20 MiB of spaces: tiny compressed, too large inflated
	zw := gzip.NewWriter(&huge)
	zw.Write([]byte(`{"hash":"sha256:` + strings.Repeat("0", 64) + `","software":[`))
	zw.Write(bytes.Repeat([]byte(" "), machineapi.MaxSoftwareJSONBytes+10))
	zw.Close()
	lying := upload(item("bash", "5.3"), item("curl", "8"))
	lying.Software = lying.Software[:1] // the list lost an entry after hashing
	for _, tc := range []struct {
		name   string
		body   []byte
		enc    string
		status int
	}{
		{"garbage version", gz(t, bad), "gzip", http.StatusBadRequest},
		{"version too long", gz(t, long), "gzip", http.StatusBadRequest},
		{"10001 entries", gz(t, upload(many...)), "gzip", http.StatusRequestEntityTooLarge},
		{"truncated gzip", whole[:len(whole)-9], "gzip", http.StatusBadRequest},
		{"not gzip", []byte(`{"hash":"x"}`), "gzip", http.StatusBadRequest},
		{"zip bomb", huge.Bytes(), "gzip", http.StatusRequestEntityTooLarge},
		{"compressed too large", bytes.Repeat([]byte("x"), machineapi.MaxSoftwareUploadBytes+1), "gzip", http.StatusRequestEntityTooLarge},
		{"brotli", gz(t, good), "br", http.StatusUnsupportedMediaType},
		{"hash of another list", gz(t, lying), "gzip", http.StatusBadRequest},
		{"bad hash", gz(t, machineapi.SoftwareUpload{Hash: "md5:1", Software: good.Software}), "gzip", http.StatusBadRequest},
		{"unknown field", []byte(`{"hash":"` + good.Hash + `","software":[],"extra":1}`), "", http.StatusBadRequest},
		{"truncated JSON", []byte(`{"hash":"` + good.Hash + `","software":[{"name":"bash"`), "", http.StatusBadRequest},
		{"source garbage", gz(t, upload(machineapi.SoftwareItem{Name: "x", Source: "DROP TABLE"})), "gzip", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, e.do("POST", "/api/machines/software", m.Token, tc.body, "Content-Encoding", tc.enc), tc.status)
			if got := e.machineSoftware(m.ID); got != "bash=5.2/agent" {
				t.Fatalf("list changed to %s", got)
			}
		})
	}
	expect(t, e.do("POST", "/api/machines/software", "", gz(t, good), "Content-Encoding", "gzip"), http.StatusUnauthorized)
	expect(t, e.do("POST", "/api/machines/heartbeat", m.Token, map[string]any{"softwareHash": "sha256:XYZ"}), http.StatusBadRequest)
}

func fleetSoftwareEntries(n int) []any {
	out := make([]any, 0, n+4)
	for i := range n {
		out = append(out, map[string]any{"id": i + 1, "name": fmt.Sprintf("lib-ünïcødé-%d", i), "version": "1." + fmt.Sprint(i),
			"source": "deb_packages", "vulnerabilities": nil, "installed_paths": nil, "browser": ""})
	}
	return out
}

// TestFleetSoftware: a Fleet host with thousands of entries (nulls,
// duplicates, unicode) merges with the agent's list on one machine, the
// agent winning; an unchanged list is not rewritten; a bad entry in any
// host refuses the whole payload.
func TestFleetSoftware(t *testing.T) {
	e := newEnv(t)
	m := e.register(e.secret, "agent-name", "C02ZX1ABCDEF") // the fixture's serial
	client, _ := machineapi.New(e.ts.URL, machineapi.Options{})
	if _, err := client.UploadSoftware(t.Context(), m.Token, upload(
		machineapi.SoftwareItem{Name: "Google Chrome.app", Version: "125.0.6422.113", Source: "apps", BundleID: "com.google.Chrome"},
	)); err != nil {
		t.Fatal(err)
	}
	sw := fleetSoftwareEntries(3000)
	sw = append(sw, nil, sw[0], sw[1],
		map[string]any{"id": 9001, "name": "Google Chrome.app", "version": "124.0", "source": "apps", "bundle_identifier": "com.google.Chrome"})
	host := fleetHost(t, map[string]any{"id": 1})
	host["software"] = append(host["software"].([]any), sw...)
	post := func(status int, hosts ...any) map[string]any {
		return expect(t, e.do("POST", "/api/integrations/fleet/hosts", "", map[string]any{"hosts": hosts}, "x-fleet-secret", e.secret), status).JSON(t)
	}
	post(http.StatusOK, host)
	list, err := e.st.ListMachineSoftware(t.Context(), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	// 3000 libraries + osquery from the fixture + the agent's Chrome; the
	// fixture's and the extra Fleet Chrome are shadowed by the agent's.
	if len(list) != 3002 {
		t.Fatalf("%d entries, want 3002", len(list))
	}
	var chrome store.InstalledSoftware
	for _, s := range list {
		if s.Name == "Google Chrome.app" {
			chrome = s
		}
	}
	if chrome.Origin != store.OriginAgent || strings.Join(chrome.Vulnerabilities, ",") != "CVE-2024-5274" {
		t.Fatalf("chrome = %+v (agent's entry with Fleet's CVE for the same version)", chrome)
	}
	before, _ := e.st.SoftwareHash(t.Context(), m.ID, store.OriginFleet)
	if h, _ := e.st.ListSoftwareHistory(t.Context(), m.ID, 10); len(h) != 0 {
		t.Fatalf("Fleet's first list wrote history: %v", h)
	}
	e.clock.Add(time.Minute)
	post(http.StatusOK, host) // unchanged: not rewritten
	// One entry less: a removal in the history.
	host["software"] = host["software"].([]any)[1:]
	e.clock.Add(time.Minute)
	post(http.StatusOK, host)
	if h, _ := e.st.ListSoftwareHistory(t.Context(), m.ID, 10); len(h) != 1 || h[0].Change != store.ChangeRemoved ||
		h[0].Software.Name != "osquery" {
		t.Fatalf("history after Fleet dropped osquery: %v", h)
	}
	if after, _ := e.st.SoftwareHash(t.Context(), m.ID, store.OriginFleet); after == before {
		t.Fatal("changed list kept its hash")
	}
	before, _ = e.st.SoftwareHash(t.Context(), m.ID, store.OriginFleet)
	post(http.StatusOK, host)
	if after, _ := e.st.SoftwareHash(t.Context(), m.ID, store.OriginFleet); after != before || before == "" {
		t.Fatalf("hash %q -> %q", before, after)
	}
	snapshot := e.machineSoftware(m.ID)
	machines, _ := e.st.ListMachines(t.Context(), store.MachineFilter{})
	for name, mutate := range map[string]func(h map[string]any){
		"garbage version": func(h map[string]any) {
			h["software"] = []any{map[string]any{"name": "x", "version": "1\x00", "source": "apps"}}
		},
		"version not a string": func(h map[string]any) {
			h["software"] = []any{map[string]any{"name": "x", "version": 1, "source": "apps"}}
		},
		"10001 entries": func(h map[string]any) { h["software"] = fleetSoftwareEntries(store.MaxSoftwareItems + 1) },
	} {
		bad := fleetHost(t, map[string]any{"id": 7, "hardware_serial": "NEWSERIAL", "hostname": "new-host"})
		mutate(bad)
		r := e.do("POST", "/api/integrations/fleet/hosts", "", map[string]any{"hosts": []any{host, bad}}, "x-fleet-secret", e.secret)
		if r.Status < 400 || r.Status >= 500 {
			t.Fatalf("%s: status %d: %s", name, r.Status, r.Body)
		}
		if got := e.machineSoftware(m.ID); got != snapshot {
			t.Fatalf("%s: software changed", name)
		}
		if after, _ := e.st.ListMachines(t.Context(), store.MachineFilter{}); len(after) != len(machines) {
			t.Fatalf("%s: a machine was created", name)
		}
	}
}

// TestSoftwareHistoryRetention: the hourly pass prunes software history
// past SoftwareHistoryRetention and keeps the machine's current list.
func TestSoftwareHistoryRetention(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.SoftwareHistoryRetention = 30 * 24 * time.Hour })
	m := e.register(e.secret, "h1", "S1")
	for i, v := range []string{"1", "2", "3"} {
		at := e.clock.Now().Add(-time.Duration(60-20*i) * 24 * time.Hour) // 60, 40 and 20 days ago
		if _, err := e.st.ReplaceSoftware(t.Context(), store.SoftwareReport{MachineID: m.ID, Origin: store.OriginAgent,
			Hash: "h" + v, Items: []store.Software{{Name: "tool", Version: v, Source: "deb_packages"}}, At: at}); err != nil {
			t.Fatal(err)
		}
	}
	e.srv.PruneOld(t.Context())
	hist, err := e.st.ListSoftwareHistory(t.Context(), m.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string]bool{}
	for _, h := range hist {
		kept[h.Change+" "+h.Software.Version] = true
	}
	if len(hist) != 2 || !kept["removed 2"] || !kept["installed 3"] {
		t.Fatalf("history after pruning: %+v", hist)
	}
	if got := e.machineSoftware(m.ID); got != "tool=3/agent" {
		t.Fatalf("current list: %s", got)
	}
}
