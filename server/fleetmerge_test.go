package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/pgtest"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/postgres"
)

// backends runs f against the server on SQLite and on PostgreSQL.
func backends(t *testing.T, f func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) { f(t, newEnv(t)) })
	t.Run("postgres", func(t *testing.T) {
		st, err := postgres.Open(t.Context(), pgtest.Start(t), postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		f(t, newEnvStore(t, t.TempDir(), st))
	})
}

// osqueryStrings is the host with every osquery-sourced value as a string
// (what a relay built on osqueryi --json sends), nulls where Fleet has
// none, and a software list of n entries.
func osqueryStrings(t *testing.T, set map[string]any, software int) map[string]any {
	h := fleetHost(t, set)
	for _, k := range []string{"memory", "uptime", "cpu_physical_cores", "cpu_logical_cores",
		"gigs_disk_space_available", "gigs_total_disk_space", "percent_disk_space_available"} {
		h[k] = fmt.Sprint(h[k])
	}
	h["cpu_physical_cores"] = "" // osquery's NULL
	h["orbit_version"], h["team_name"], h["disk_encryption_enabled"], h["public_ip"] = nil, nil, nil, nil
	sw := make([]any, software)
	for i := range sw {
		sw[i] = map[string]any{"id": i, "name": fmt.Sprintf("pkg-%05d", i), "version": "1.0." + fmt.Sprint(i),
			"source": "deb_packages", "browser": "", "generated_cpe": "", "vulnerabilities": nil}
	}
	h["software"] = sw
	return h
}

// machines lists the default tenant's machines through the admin API.
func (e *env) machines() []map[string]any {
	e.t.Helper()
	r := expect(e.t, e.do("GET", "/api/admin/machines", e.admin, nil), http.StatusOK).JSON(e.t)
	var out []map[string]any
	for _, m := range r["items"].([]any) {
		out = append(out, m.(map[string]any))
	}
	return out
}

func (e *env) fleetSync(body any) map[string]any {
	e.t.Helper()
	return expect(e.t, e.do("POST", "/api/integrations/fleet/hosts", "", body, "x-fleet-secret", e.secret), http.StatusOK).JSON(e.t)
}

func sourceNames(m map[string]any) string {
	var names []string
	for _, s := range m["sources"].([]any) {
		sv := s.(map[string]any)
		if sv["lastSeenAt"] == nil {
			names = append(names, sv["name"].(string)+"(never)")
			continue
		}
		names = append(names, sv["name"].(string))
	}
	return strings.Join(names, "+")
}

// TestFleetAgentOneMachine reproduces issue 13: a machine Fleet reported
// first was listed twice once its agent registered. Whatever comes first,
// and however often Fleet re-sends, one physical machine is one row that
// keeps both sources' data and when each last saw it.
func TestFleetAgentOneMachine(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		const serial = "X9QCQ2QW3M"
		// Fleet first: the GET /hosts/{id} shape, osquery strings, nulls, a
		// huge software list.
		host := osqueryStrings(t, map[string]any{"id": 41, "hardware_serial": serial}, 10000) // the per-host maximum (server/softwarefleet.go)
		r := e.fleetSync(map[string]any{"host": host})
		if r["created"].(float64) != 1 {
			t.Fatalf("first sync: %v", r)
		}
		fleetRow := r["hosts"].([]any)[0].(map[string]any)["machineId"].(string)
		agent := e.register(e.secret, "janes-mbp", serial)
		if agent.ID != fleetRow {
			t.Errorf("agent registered as %s, want the Fleet row %s", agent.ID, fleetRow)
		}
		// Fleet re-sends (webhook array shape, then the REST shape again).
		for _, body := range []any{[]any{host}, map[string]any{"host": host}} {
			r = e.fleetSync(body)
			if h := r["hosts"].([]any)[0].(map[string]any); h["machineId"] != fleetRow || h["matchedBy"] != "serial" {
				t.Fatalf("re-send: %v", h)
			}
		}
		ms := e.machines()
		if len(ms) != 1 {
			t.Fatalf("%d machines listed, want 1: %v", len(ms), ms)
		}
		if ms[0]["source"] != "agent" || sourceNames(ms[0]) != "agent+fleet" || ms[0]["hostname"] != "janes-mbp" {
			t.Errorf("merged machine: source %v sources %v hostname %v", ms[0]["source"], ms[0]["sources"], ms[0]["hostname"])
		}
		d := expect(t, e.do("GET", "/api/admin/machines/"+fleetRow, e.admin, nil), http.StatusOK).JSON(t)
		fl := d["fleet"].(map[string]any)
		if fl["memoryBytes"].(float64) != 34359738368 || fl["fleetId"].(float64) != 41 || d["inventory"] == nil {
			t.Errorf("merged detail lost data: fleet %v inventory %v", fl, d["inventory"])
		}

		// Agent first, Fleet later (missing fields: only what a minimal
		// Fleet host carries), matched on the hardware UUID.
		const hwUUID = "4c4c4544-0035-3010-8048-b7c04f4d3232"
		second := expect(t, e.do("POST", "/api/machines/register", "", map[string]any{
			"provisioningSecret": e.secret, "hostname": "build-7", "os": map[string]any{"name": "linux"},
			"machineId": strings.ToUpper(hwUUID), "macAddresses": []string{"00:1a:2b:3c:4d:99"}}), http.StatusCreated).JSON(t)["machineId"]
		for range 2 {
			r = e.fleetSync([]any{map[string]any{"id": 42, "hostname": "build-7.corp", "uuid": hwUUID, "hardware_serial": nil, "primary_mac": ""}})
			if h := r["hosts"].([]any)[0].(map[string]any); h["machineId"] != second || h["matchedBy"] != "uuid" {
				t.Fatalf("Fleet after agent: %v", h)
			}
		}
		// Matched on the primary MAC only.
		third := expect(t, e.do("POST", "/api/machines/register", "", map[string]any{
			"provisioningSecret": e.secret, "hostname": "kiosk", "os": map[string]any{"name": "linux"},
			"macAddresses": []string{"00:1a:2b:3c:4d:77"}}), http.StatusCreated).JSON(t)["machineId"]
		r = e.fleetSync(map[string]any{"hosts": []any{map[string]any{"id": 43, "hostname": "kiosk", "primary_mac": "00:1A:2B:3C:4D:77"}}})
		if h := r["hosts"].([]any)[0].(map[string]any); h["machineId"] != third || h["matchedBy"] != "mac" {
			t.Fatalf("Fleet by MAC: %v", h)
		}
		if n := len(e.machines()); n != 3 {
			t.Fatalf("%d machines, want 3", n)
		}
	})
}

// TestFleetHostMatchingTwoMachines: the documented rule for a Fleet host
// whose identifiers point at two machines (docs/server.md): its data goes
// to the match of the strongest identifier, the other machine is named in
// the answer and left unchanged, nothing is deleted.
func TestFleetHostMatchingTwoMachines(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		bySerial := e.register(e.secret, "laptop", "C02CONFLICT")
		byUUID := expect(t, e.do("POST", "/api/machines/register", "", map[string]any{
			"provisioningSecret": e.secret, "hostname": "vm", "os": map[string]any{"name": "linux"},
			"machineId": "11112222-3333-4444-5555-666677778888"}), http.StatusCreated).JSON(t)["machineId"].(string)
		r := e.fleetSync(map[string]any{"host": fleetHost(t, map[string]any{"id": 9, "hardware_serial": "C02CONFLICT",
			"uuid": "11112222-3333-4444-5555-666677778888"})})
		h := r["hosts"].([]any)[0].(map[string]any)
		if r["conflicts"].(float64) != 1 || h["machineId"] != bySerial.ID || h["matchedBy"] != "serial" ||
			fmt.Sprint(h["conflicts"]) != fmt.Sprint([]any{byUUID}) {
			t.Fatalf("conflict answer: %v", r)
		}
		if n := len(e.machines()); n != 2 {
			t.Fatalf("%d machines, want 2 (nothing merged away)", n)
		}
		other, err := e.st.GetMachine(t.Context(), byUUID)
		if err != nil || other.Fleet != nil || other.HardwareUUID != "11112222-3333-4444-5555-666677778888" {
			t.Fatalf("the other machine changed: %+v %v", other, err)
		}
		// The winner did not take the contested UUID.
		won, err := e.st.GetMachine(t.Context(), bySerial.ID)
		if err != nil || won.HardwareUUID != "" || won.Fleet == nil {
			t.Fatalf("winner: %+v %v", won, err)
		}
	})
}

// TestFleetNumbersAsStrings: numeric host fields may be JSON numbers or
// osquery strings; anything else is refused with the field named.
func TestFleetNumbersAsStrings(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		value  any
		status int
	}{{"34359738368", 200}, {34359738368, 200}, {"", 200}, {nil, 200}, {"lots", 400}, {true, 400}, {"1.5", 400}} {
		h := fleetHost(t, map[string]any{"memory": tc.value, "hardware_serial": "NUM1"})
		r := e.do("POST", "/api/integrations/fleet/hosts", "", h, "x-fleet-secret", e.secret)
		if r.Status != tc.status || (tc.status == 400 && !strings.Contains(string(r.Body), "memory")) {
			t.Errorf("memory %#v: %d %s", tc.value, r.Status, r.Body)
		}
	}
	var got map[string]any
	m, err := e.st.FindMachine(t.Context(), "default", store.BySerial, "NUM1")
	if err != nil || json.Unmarshal(m.Fleet, &got) != nil {
		t.Fatalf("machine %+v %v", m, err)
	}
}
