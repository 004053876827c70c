package server_test

import (
	"encoding/json"
	"net/http"
	"os"
	"testing"

	"github.com/slipwayhq/slipway/server/store"
)

// fleetHost returns the SPEC.md §4 host fixture with fields overridden.
func fleetHost(t *testing.T, set map[string]any) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/fleet_host.json")
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		h[k] = v
	}
	return h
}

func TestFleetSyncMatching(t *testing.T) {
	e := newEnv(t)
	bySerial := e.register(e.secret, "agent-name", "C02ZX1ABCDEF")
	byUUID := e.do("POST", "/api/machines/register", "", map[string]any{
		"provisioningSecret": e.secret, "hostname": "win-1", "os": map[string]any{"name": "windows"},
		"machineId": "1111AAAA-2222-3333-4444-555566667777"}).JSON(t)["machineId"].(string)
	byHost := e.do("POST", "/api/machines/register", "", map[string]any{
		"provisioningSecret": e.secret, "hostname": "Build-Box", "os": map[string]any{"name": "linux"}}).JSON(t)["machineId"].(string)

	hosts := []any{
		fleetHost(t, map[string]any{"id": 1}), // serial C02ZX1ABCDEF
		fleetHost(t, map[string]any{"id": 2, "hardware_serial": "-1", "uuid": "1111aaaa-2222-3333-4444-555566667777", "hostname": "other", "platform": "windows", "primary_mac": "00:15:5d:00:00:02"}),
		fleetHost(t, map[string]any{"id": 3, "hardware_serial": "", "uuid": "", "hostname": "build-box", "primary_mac": ""}),
		fleetHost(t, map[string]any{"id": 4, "hardware_serial": "NEWSERIAL9", "uuid": "9999aaaa-0000-0000-0000-000000000001", "hostname": "unknown.local", "primary_mac": "00:15:5d:00:00:04"}),
	}
	r := expect(t, e.do("POST", "/api/integrations/fleet/hosts", "", map[string]any{"hosts": hosts}, "x-fleet-secret", e.secret), http.StatusOK).JSON(t)
	if r["received"].(float64) != 4 || r["matched"].(float64) != 3 || r["created"].(float64) != 1 {
		t.Fatalf("fleet response %v", r)
	}
	want := []struct{ id, by string }{{bySerial.ID, "serial"}, {byUUID, "uuid"}, {byHost, "hostname"}, {"", "created"}}
	for i, h := range r["hosts"].([]any) {
		hm := h.(map[string]any)
		if hm["matchedBy"] != want[i].by || (want[i].id != "" && hm["machineId"] != want[i].id) {
			t.Errorf("host %d: %v, want %+v", i, hm, want[i])
		}
	}
	m, err := e.st.GetMachine(t.Context(), bySerial.ID)
	if err != nil {
		t.Fatal(err)
	}
	var fl map[string]any
	if err := json.Unmarshal(m.Fleet, &fl); err != nil {
		t.Fatal(err)
	}
	if fl["hardwareModel"] != "Mac14,9" || fl["uptimeSeconds"].(float64) != 604800 || fl["memoryBytes"].(float64) != 34359738368 ||
		m.Hostname != "agent-name" || m.HardwareUUID != "8b9c1a7e-4f5d-5e2a-9c3b-1d2e3f4a5b6c" {
		t.Fatalf("merged machine %+v fleet %v", m, fl)
	}
	// Unmatched host kept as an inventory-only machine, matched again next time.
	inv, err := e.st.FindMachine(t.Context(), "default", store.BySerial, "NEWSERIAL9")
	if err != nil || inv.Source != "fleet" || inv.Fingerprint != "" || inv.OS.Name != "darwin" {
		t.Fatalf("inventory-only machine: %+v %v", inv, err)
	}
	r = expect(t, e.do("POST", "/api/integrations/fleet/hosts?secret="+e.secret, "", hosts[3]), http.StatusOK).JSON(t)
	if r["created"].(float64) != 0 || r["hosts"].([]any)[0].(map[string]any)["machineId"] != inv.ID {
		t.Fatalf("second sync: %v", r)
	}
	// The machine detail shows the Fleet data.
	d := expect(t, e.do("GET", "/api/admin/machines/"+bySerial.ID, e.admin, nil), http.StatusOK).JSON(t)
	if d["fleet"].(map[string]any)["cpuBrand"] != "Apple M2 Pro" {
		t.Fatalf("detail fleet: %v", d["fleet"])
	}
}

func TestFleetPayloadShapes(t *testing.T) {
	e := newEnv(t)
	single := fleetHost(t, map[string]any{"hardware_serial": "SHAPE1"})
	shapes := map[string]any{
		"object":  single,
		"array":   []any{single, fleetHost(t, map[string]any{"hardware_serial": "SHAPE2", "hostname": "b"})},
		"wrapper": map[string]any{"hosts": []any{fleetHost(t, map[string]any{"hardware_serial": "SHAPE3", "hostname": "c"})}},
		"get":     map[string]any{"host": fleetHost(t, map[string]any{"hardware_serial": "SHAPE4", "hostname": "d"})},
	}
	wantN := map[string]float64{"object": 1, "array": 2, "wrapper": 1, "get": 1}
	for name, body := range shapes {
		r := expect(t, e.do("POST", "/api/integrations/fleet/hosts", "", body, "x-fleet-secret", e.secret), http.StatusOK).JSON(t)
		if r["received"] != wantN[name] {
			t.Errorf("%s: %v", name, r)
		}
	}
}

func TestFleetAuth(t *testing.T) {
	e := newEnv(t)
	host := fleetHost(t, nil)
	expect(t, e.do("POST", "/api/integrations/fleet/hosts", "", host), http.StatusUnauthorized)
	expect(t, e.do("POST", "/api/integrations/fleet/hosts", "", host, "x-fleet-secret", "wrong"), http.StatusUnauthorized)
	expect(t, e.do("POST", "/api/integrations/fleet/hosts", e.admin, host), http.StatusUnauthorized)
	// Once the tenant has a Fleet secret, the provisioning secret no longer works for Fleet.
	fs := expect(t, e.do("POST", "/api/admin/tenants/default/secrets", e.admin, map[string]any{"kind": "fleet"}), http.StatusCreated).JSON(t)
	expect(t, e.do("POST", "/api/integrations/fleet/hosts", "", host, "x-fleet-secret", e.secret), http.StatusUnauthorized)
	expect(t, e.do("POST", "/api/integrations/fleet/hosts?secret="+fs["secret"].(string), "", host), http.StatusOK)
	expect(t, e.do("DELETE", "/api/admin/tenants/default/secrets/"+fs["id"].(string), e.admin, nil), http.StatusNoContent)
	expect(t, e.do("POST", "/api/integrations/fleet/hosts?secret="+fs["secret"].(string), "", host), http.StatusUnauthorized)
	expect(t, e.do("POST", "/api/integrations/fleet/hosts", "", host, "x-fleet-secret", e.secret), http.StatusOK)
}
