package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

type tenantRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// meResponse is what the ticket portal shows about the calling machine.
type meResponse struct {
	MachineID       string         `json:"machineId"`
	Name            string         `json:"name"`
	Tenant          tenantRef      `json:"tenant"`
	OS              osInfo         `json:"os"`
	AgentVersion    string         `json:"agentVersion,omitempty"`
	Status          string         `json:"status"`
	LastHeartbeatAt *time.Time     `json:"lastHeartbeatAt"`
	Highlights      map[string]any `json:"highlights"`
	// Software is the machine's software, with ?include=software.
	Software *[]softwareView `json:"software,omitempty"`
}

// highlightKeys are the inventory (agent) and Fleet summary keys worth
// showing next to a support ticket.
var highlightKeys = []string{"hardwareVendor", "hardwareModel", "cpuBrand", "memoryBytes", "primaryIp",
	"diskTotalGb", "diskAvailableGb", "manufacturer", "model", "cpu", "memory", "user", "domain"}

func highlights(m store.Machine) map[string]any {
	out := map[string]any{}
	if len(m.SerialNumbers) > 0 {
		out["serialNumber"] = m.SerialNumbers[0]
	}
	for _, src := range []json.RawMessage{m.Fleet, m.Inventory} { // agent data wins
		var obj map[string]any
		if len(src) == 0 || json.Unmarshal(src, &obj) != nil {
			continue
		}
		for _, k := range highlightKeys {
			switch v := obj[k].(type) {
			case string:
				if v != "" && len(v) <= 256 {
					out[k] = v
				}
			case float64, bool:
				out[k] = v
			}
		}
	}
	return out
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) error {
	include := r.URL.Query().Get("include")
	if include != "" && include != "software" {
		return badRequest("include", "must be software")
	}
	c, _ := MachineFromContext(r.Context())
	m, err := s.st.GetMachine(r.Context(), c.MachineID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && m.TenantID != c.TenantID) {
		return unauthorized("unknown_machine", "the machine no longer exists")
	}
	if err != nil {
		return err
	}
	t, err := s.st.GetTenant(r.Context(), m.TenantID)
	if err != nil {
		return err
	}
	out := meResponse{
		MachineID: m.ID, Name: m.Hostname, Tenant: tenantRef{ID: t.ID, Name: t.Name},
		OS:           osInfo{Name: m.OS.Name, Version: m.OS.Version, Architecture: m.OS.Architecture},
		AgentVersion: m.AgentVersion, Status: s.status(m.LastSeenAt, s.now()), LastHeartbeatAt: optTime(m.LastSeenAt),
		Highlights: highlights(m),
	}
	if include == "software" {
		list, err := s.st.ListMachineSoftware(r.Context(), m.ID)
		if err != nil {
			return err
		}
		views := viewSoftware(list)
		out.Software = &views
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
