package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/google/uuid"

	"github.com/slipwayhq/slipway/server/fingerprint"
	"github.com/slipwayhq/slipway/server/fleet"
	"github.com/slipwayhq/slipway/server/store"
)

type fleetResult struct {
	MachineID string `json:"machineId"`
	FleetID   int64  `json:"fleetId"`
	Hostname  string `json:"hostname"`
	MatchedBy string `json:"matchedBy"` // serial, uuid, hostname, or created
}

type fleetResponse struct {
	Received int           `json:"received"`
	Matched  int           `json:"matched"`
	Created  int           `json:"created"`
	Hosts    []fleetResult `json:"hosts"`
}

// handleFleetHosts upserts Fleet host inventory onto the tenant's machines.
func (s *Server) handleFleetHosts(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, s.cfg.MaxFleetBodyBytes)
	if err != nil {
		return err
	}
	hosts, err := fleet.Parse(body)
	var fe *fleet.FieldError
	switch {
	case errors.As(err, &fe):
		return badRequest(fe.Field, "%s", fe.Msg)
	case errors.Is(err, fleet.ErrEmpty):
		return badRequest("hosts", "no host in the payload")
	case err != nil:
		return badRequest("body", "invalid Fleet payload")
	}
	software, err := fleetSoftware(hosts) // checked before anything changes
	if err != nil {
		return err
	}
	tenantID, _ := r.Context().Value(tenantKey).(string)
	resp := fleetResponse{Received: len(hosts), Hosts: []fleetResult{}}
	for i, h := range hosts {
		res, err := s.upsertFleetHost(r.Context(), tenantID, h)
		if err != nil {
			return err
		}
		if err := s.storeFleetSoftware(r.Context(), res.MachineID, software[i]); err != nil {
			return err
		}
		if res.MatchedBy == "created" {
			resp.Created++
		} else {
			resp.Matched++
		}
		resp.Hosts = append(resp.Hosts, res)
	}
	s.log.InfoContext(r.Context(), "fleet sync", "tenant_id", tenantID, "matched", resp.Matched, "created", resp.Created)
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// matchFleetHost finds the tenant's machine by serial, then UUID, then hostname.
func (s *Server) matchFleetHost(ctx context.Context, tenantID string, h fleet.Host) (store.Machine, string, error) {
	for _, try := range []struct {
		kind  store.IdentifierKind
		value string
	}{
		{store.BySerial, fingerprint.Serial(h.HardwareSerial)},
		{store.ByUUID, fingerprint.UUID(h.UUID)},
		{store.ByHostname, h.Hostname},
	} {
		if try.value == "" {
			continue
		}
		m, err := s.st.FindMachine(ctx, tenantID, try.kind, try.value)
		if err == nil {
			return m, string(try.kind), nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return m, "", err
		}
	}
	return store.Machine{}, "", store.ErrNotFound
}

func (s *Server) upsertFleetHost(ctx context.Context, tenantID string, h fleet.Host) (fleetResult, error) {
	now := s.now().UTC()
	summary, err := json.Marshal(h.Summarize(now))
	if err != nil {
		return fleetResult{}, err
	}
	serial, hwUUID := fingerprint.Serial(h.HardwareSerial), fingerprint.UUID(h.UUID)
	m, matchedBy, err := s.matchFleetHost(ctx, tenantID, h)
	if errors.Is(err, store.ErrNotFound) {
		m = store.Machine{
			ID: uuid.Must(uuid.NewV7()).String(), TenantID: tenantID, Hostname: h.Hostname,
			OS:     store.OS{Name: h.Platform, Version: h.OSVersion},
			Source: "fleet", HardwareUUID: hwUUID, Fleet: summary, CreatedAt: now, UpdatedAt: now,
		}
		if serial != "" {
			m.SerialNumbers = []string{serial}
		}
		if mac := fingerprint.MAC(h.PrimaryMAC); mac != "" {
			m.MACAddresses = []string{mac}
		}
		if err := s.st.CreateMachine(ctx, m); err != nil {
			return fleetResult{}, err
		}
		return fleetResult{MachineID: m.ID, FleetID: h.ID, Hostname: m.Hostname, MatchedBy: "created"}, nil
	}
	if err != nil {
		return fleetResult{}, err
	}
	// Fill what the machine does not know; agent-reported data wins.
	m.Fleet, m.UpdatedAt = summary, now
	if m.Hostname == "" {
		m.Hostname = h.Hostname
	}
	if m.HardwareUUID == "" {
		m.HardwareUUID = hwUUID
	}
	if m.OS.Name == "" {
		m.OS = store.OS{Name: h.Platform, Version: h.OSVersion}
	}
	if serial != "" && !slices.Contains(m.SerialNumbers, serial) && len(m.SerialNumbers) < 16 {
		m.SerialNumbers = append(m.SerialNumbers, serial)
	}
	if err := s.st.UpdateMachine(ctx, m); err != nil {
		return fleetResult{}, err
	}
	return fleetResult{MachineID: m.ID, FleetID: h.ID, Hostname: m.Hostname, MatchedBy: matchedBy}, nil
}
