package storetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/server/store"
)

// SoftwareBeforeKeySQL is software inventory data as a database migrated up
// to (not including) 0014 holds it, in SQL both backends run: two machines
// whose IDs sort the other way round from their insertion, an agent list,
// a shadowed Fleet entry, a list hash and a history row.
var SoftwareBeforeKeySQL = []string{
	"INSERT INTO tenants (id, name, created_at) VALUES ('t', 't', 0)",
	`INSERT INTO machines (id, tenant_id, fingerprint, hostname, os_name, os_version, os_arch, macs, serials,
		hardware_uuid, source, created_at, updated_at) VALUES
		('mb', 't', 'fb', 'host-mb', '', '', '', '[]', '[]', '', 'agent', 0, 0),
		('ma', 't', 'fa', 'host-ma', '', '', '', '[]', '[]', '', 'agent', 0, 0)`,
	`INSERT INTO software (name, name_key, version, source, bundle_id, vendor, vulnerabilities) VALUES
		('Firefox', 'firefox', '127.0', 'deb_packages', '', 'Mozilla', ''),
		('bash', 'bash', '5.2', 'deb_packages', '', '', ''),
		('firefox', 'firefox', '126.0', 'deb_packages', '', '', 'CVE-2024-1'),
		('curl', 'curl', '7.88', 'deb_packages', '', '', '')`,
	oldLink("mb", "Firefox", 1, 0, ""),
	oldLink("mb", "bash", 1, 0, "/bin/bash"),
	oldLink("mb", "firefox", 2, 1, ""),
	oldLink("ma", "Firefox", 1, 0, ""),
	"INSERT INTO machine_software_lists (machine_id, origin, hash, count, updated_at) VALUES ('mb', 1, 'h-mb', 2, 1000), ('ma', 1, 'h-ma', 1, 1000)",
	"INSERT INTO software_history (machine_id, at, software_id, change) SELECT 'mb', 1000, id, 'removed' FROM software WHERE name = 'curl'",
}

// oldLink is a machine_software row of the schema before 0014 (names are
// unique in SoftwareBeforeKeySQL's software rows).
func oldLink(machineID, name string, origin, shadowed int, path string) string {
	return fmt.Sprintf(`INSERT INTO machine_software (machine_id, software_id, origin, tenant_id, shadowed, installed_at, path)
		SELECT '%s', id, %d, 't', %d, 0, '%s' FROM software WHERE name = '%s'`, machineID, origin, shadowed, path, name)
}

// CheckSoftwareAfterKey checks a store opened on SoftwareBeforeKeySQL's
// data (migration 0014 applied at open): nothing lost, searches in machine
// ID order, new reports apply on top.
func CheckSoftwareAfterKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.ListMachineSoftware(ctx, "mb")
	must(t, err)
	if n := names(got); n != "bash=5.2/agent Firefox=127.0/agent" || got[0].Path != "/bin/bash" {
		t.Fatalf("mb after the migration = %s (%+v)", n, got)
	}
	if h, err := s.SoftwareHash(ctx, "ma", store.OriginAgent); err != nil || h != "h-ma" {
		t.Fatalf("ma's hash = %q, %v", h, err)
	}
	hist, err := s.ListSoftwareHistory(ctx, "mb", 10)
	must(t, err)
	if len(hist) != 1 || hist[0].Software.Name != "curl" {
		t.Fatalf("mb's history = %+v", hist)
	}
	var order []string
	after := ""
	for {
		hits, err := s.FindSoftware(ctx, store.SoftwareSearch{TenantID: "t", Name: "firefox", After: after, Limit: 1})
		must(t, err)
		if len(hits) == 0 {
			break
		}
		order = append(order, hits[0].MachineID+"="+hits[0].Software[0].Version)
		after = hits[0].MachineID
	}
	if j := strings.Join(order, " "); j != "ma=127.0 mb=127.0" {
		t.Fatalf("firefox, page by page = %s", j)
	}
	// The shadowed Fleet entry shows once the agent's firefox goes; a third
	// machine gets the next key and pages after the migrated ones.
	d, err := s.ReplaceSoftware(ctx, store.SoftwareReport{MachineID: "mb", Origin: store.OriginAgent, Hash: "h2",
		Items: []store.Software{deb("bash", "5.2")}, At: t0})
	must(t, err)
	if d.Baseline || d.Removed != 1 || d.Installed != 1 {
		t.Fatalf("diff = %+v", d)
	}
	got, err = s.ListMachineSoftware(ctx, "mb")
	must(t, err)
	if n := names(got); n != "bash=5.2/agent firefox=126.0/fleet" || got[1].Vulnerabilities[0] != "CVE-2024-1" {
		t.Fatalf("mb after a new list = %s", n)
	}
	must(t, s.CreateMachine(ctx, machine("t", "m0", "f0")))
	replace(t, s, "m0", store.OriginAgent, t0, deb("firefox", "126.0"))
	hits, err := s.FindSoftware(ctx, store.SoftwareSearch{TenantID: "t", Name: "firefox"})
	must(t, err)
	order = nil
	for _, h := range hits {
		order = append(order, fmt.Sprintf("%s=%s", h.MachineID, h.Software[0].Version))
	}
	if j := strings.Join(order, " "); j != "ma=127.0 mb=126.0 m0=126.0" {
		t.Fatalf("firefox after new reports = %s", j)
	}
}
