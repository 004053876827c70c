package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

type heartbeatRequest struct {
	MachineToken string          `json:"machineToken"`
	Status       string          `json:"status"`
	Metrics      json.RawMessage `json:"metrics"`
	AgentVersion string          `json:"agentVersion"`
	Inventory    json.RawMessage `json:"inventory"`
	SoftwareHash string          `json:"softwareHash"`
}

// renewEvery is the granularity of the sliding token expiry; shorter
// TTLs renew every quarter of their lifetime (renewStep).
const renewEvery = time.Hour

// renewStep is how far the expiry must move before it is written: at
// most renewEvery, and a quarter of the TTL, so a token of any lifetime
// slides while its machine heartbeats.
func renewStep(ttl time.Duration) time.Duration { return min(renewEvery, ttl/4) }

var statusRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// Validate checks the request fields.
func (q *heartbeatRequest) Validate() error {
	var st error
	if q.Status != "" && !statusRE.MatchString(q.Status) {
		st = badRequest("status", "must be a short lower-case word such as ok, degraded, error")
	}
	return errors.Join(st,
		metricsObject(q.Metrics),
		text("agentVersion", q.AgentVersion, false, 64),
		object("inventory", q.Inventory, maxInventory),
		checkSoftwareHash("softwareHash", q.SoftwareHash))
}

type heartbeatResponse struct {
	HeartbeatIntervalSeconds int       `json:"heartbeatIntervalSeconds"`
	ServerTime               time.Time `json:"serverTime"`
	ExpiresAt                time.Time `json:"expiresAt"`
	SoftwareNeeded           bool      `json:"softwareNeeded,omitempty"`
}

// appendJSON is json.Marshal(r) without reflection: machines read this
// answer by the thousand per second (TestHeartbeatResponseJSON).
func (r heartbeatResponse) appendJSON(b []byte) []byte {
	b = append(b, `{"heartbeatIntervalSeconds":`...)
	b = strconv.AppendInt(b, int64(r.HeartbeatIntervalSeconds), 10)
	b = append(b, `,"serverTime":"`...)
	b = r.ServerTime.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","expiresAt":"`...)
	b = r.ExpiresAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if r.SoftwareNeeded {
		b = append(b, `,"softwareNeeded":true`...)
	}
	return append(b, '}')
}

func (s *Server) handleHeartbeat(w http.ResponseWriter, r *http.Request) error {
	var req heartbeatRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	value := bearer(r)
	if value == "" {
		value = req.MachineToken
	}
	// Authenticate before reporting field errors: no probing without a token.
	caller, err := s.checkMachineToken(r.Context(), value)
	if err != nil {
		return err
	}
	if err := firstError(req.Validate()); err != nil {
		return err
	}
	if req.Status == "" {
		req.Status = "ok"
	}
	now := s.now().UTC()
	hb := store.Heartbeat{
		MachineID: caller.MachineID, At: now, Status: req.Status,
		AgentVersion: req.AgentVersion, Metrics: nonNull(req.Metrics), Inventory: nonNull(req.Inventory),
	}
	// Slide the token's expiry, at most once per renewStep: a token write
	// per heartbeat would cost a third of the heartbeat's database work.
	expires := caller.ExpiresAt
	if renewed := now.Add(s.cfg.TokenTTL); renewed.Sub(expires) >= renewStep(s.cfg.TokenTTL) {
		hb.TokenHash, hb.TokenExpiresAt, expires = caller.TokenHash, renewed, renewed
	}
	// Acknowledge only once the heartbeat is committed.
	if err := s.batcher.Submit(r.Context(), hb); err != nil {
		return err
	}
	res := heartbeatResponse{
		HeartbeatIntervalSeconds: s.nextInterval(), ServerTime: now, ExpiresAt: expires,
		SoftwareNeeded: s.softwareNeeded(r.Context(), caller.MachineID, req.SoftwareHash),
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(res.appendJSON(make([]byte, 0, 160)), '\n'))
	return nil
}
