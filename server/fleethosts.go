package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/slipwayhq/slipway/server/fingerprint"
	"github.com/slipwayhq/slipway/server/fleet"
	"github.com/slipwayhq/slipway/server/store"
)

type fleetResult struct {
	MachineID string `json:"machineId"`
	FleetID   int64  `json:"fleetId"`
	Hostname  string `json:"hostname"`
	MatchedBy string `json:"matchedBy"` // serial, uuid, mac, hostname, bare-hostname or created
	// Conflicts lists other machines that an identifier of the host also
	// matched; they were left as they are (see docs/server.md, Fleet).
	Conflicts []string `json:"conflicts,omitempty"`
}

type fleetResponse struct {
	Received  int           `json:"received"`
	Matched   int           `json:"matched"`
	Created   int           `json:"created"`
	Conflicts int           `json:"conflicts"`
	Hosts     []fleetResult `json:"hosts"`
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
		if len(res.Conflicts) > 0 {
			resp.Conflicts++
			s.log.WarnContext(r.Context(), "fleet host matches several machines", "tenant_id", tenantID,
				"fleet_id", res.FleetID, "machine_id", res.MachineID, "also_matched", res.Conflicts)
		}
		resp.Hosts = append(resp.Hosts, res)
	}
	s.log.InfoContext(r.Context(), "fleet sync", "tenant_id", tenantID, "matched", resp.Matched, "created", resp.Created,
		"conflicts", resp.Conflicts)
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// fleetIdentity is what identifies the host's machine: serial, hardware
// UUID, primary MAC, and the hostname as a last resort.
func fleetIdentity(h fleet.Host) store.Identity {
	id := store.Identity{HardwareUUID: fingerprint.UUID(h.UUID), Hostname: h.Hostname}
	if sn := fingerprint.Serial(h.HardwareSerial); sn != "" {
		id.Serials = []string{sn}
	}
	if mac := fingerprint.MAC(h.PrimaryMAC); mac != "" {
		id.MACs = []string{mac}
	}
	return id
}

// upsertFleetHost merges the host into the tenant's machine with its
// identity (store.MatchIdentity), or creates an inventory-only machine that
// the agent adopts when it registers.
func (s *Server) upsertFleetHost(ctx context.Context, tenantID string, h fleet.Host) (fleetResult, error) {
	now := s.now().UTC()
	summary, err := json.Marshal(h.Summarize(now))
	if err != nil {
		return fleetResult{}, err
	}
	id := fleetIdentity(h)
	m, match, err := s.st.MergeMachine(ctx, tenantID, uuid.Must(uuid.NewV7()).String(), id,
		func(m *store.Machine, match store.Match) error {
			mergeFleetHost(m, match, h, id, summary, now)
			return nil
		})
	if err != nil {
		return fleetResult{}, err
	}
	by := string(match.By)
	if match.ID == "" {
		by = "created"
	}
	return fleetResult{MachineID: m.ID, FleetID: h.ID, Hostname: m.Hostname, MatchedBy: by, Conflicts: match.Others}, nil
}

// Bounds of the identifier lists a Fleet sync may grow on a machine (the
// registration limits).
const (
	maxSerials = 16
	maxMACs    = 64
)

// mergeFleetHost writes the Fleet data onto m. A new machine takes the
// host's description; an existing one keeps what it knows (agent-reported
// data wins) and gains the identifiers it lacked, unless they also belong
// to another machine (a conflict: copying them would spread it).
func mergeFleetHost(m *store.Machine, match store.Match, h fleet.Host, id store.Identity, summary []byte, now time.Time) {
	m.Fleet, m.UpdatedAt = summary, now
	if match.ID == "" {
		m.Source, m.CreatedAt = "fleet", now
	}
	if m.Hostname == "" {
		m.Hostname = h.Hostname
	}
	if m.OS.Name == "" {
		m.OS = store.OS{Name: h.Platform, Version: h.OSVersion}
	}
	if len(match.Others) > 0 {
		return
	}
	if m.HardwareUUID == "" {
		m.HardwareUUID = id.HardwareUUID
	}
	for _, sn := range id.Serials {
		if !slices.Contains(m.SerialNumbers, sn) && len(m.SerialNumbers) < maxSerials {
			m.SerialNumbers = append(m.SerialNumbers, sn)
		}
	}
	for _, mac := range id.MACs {
		if !slices.Contains(m.MACAddresses, mac) && len(m.MACAddresses) < maxMACs {
			m.MACAddresses = append(m.MACAddresses, mac)
		}
	}
}
