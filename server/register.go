package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/slipwayhq/slipway/server/fingerprint"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/token"
)

// Size bounds of free-form JSON objects inside requests.
const (
	maxInventory = 256 << 10
	maxMetrics   = 64 << 10
)

type osInfo struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
}

type registerRequest struct {
	ProvisioningSecret string          `json:"provisioningSecret"`
	Hostname           string          `json:"hostname"`
	OS                 osInfo          `json:"os"`
	MACAddresses       []string        `json:"macAddresses"`
	SerialNumbers      []string        `json:"serialNumbers"`
	MachineID          string          `json:"machineId"`
	AgentVersion       string          `json:"agentVersion"`
	Inventory          json.RawMessage `json:"inventory"`
	Metrics            json.RawMessage `json:"metrics"`
	// Client is the kind of program registering: "agent" (the default) or
	// "desktop". Re-registering revokes only the tokens of the same kind.
	Client string `json:"client"`
}

// clientKind checks the optional client field and returns the token's kind.
func clientKind(v string) (string, error) {
	switch v {
	case "", store.ClientAgent:
		return store.ClientAgent, nil
	case store.ClientDesktop:
		return store.ClientDesktop, nil
	}
	return "", badRequest("client", "must be %q or %q", store.ClientAgent, store.ClientDesktop)
}

// Validate checks the request fields.
func (q *registerRequest) Validate() error {
	return errors.Join(
		text("provisioningSecret", q.ProvisioningSecret, true, token.MaxLen),
		text("hostname", q.Hostname, true, 255),
		text("os.name", q.OS.Name, true, 64),
		text("os.version", q.OS.Version, false, 128),
		text("os.architecture", q.OS.Architecture, false, 32),
		texts("macAddresses", q.MACAddresses, 64, 64),
		texts("serialNumbers", q.SerialNumbers, 16, 128),
		text("machineId", q.MachineID, false, 128),
		text("agentVersion", q.AgentVersion, false, 64),
		object("inventory", q.Inventory, maxInventory),
		metricsObject(q.Metrics),
		func() error { _, err := clientKind(q.Client); return err }(),
	)
}

type registerResponse struct {
	MachineID                string    `json:"machineId"`
	MachineToken             string    `json:"machineToken"`
	ExpiresAt                time.Time `json:"expiresAt"`
	HeartbeatIntervalSeconds int       `json:"heartbeatIntervalSeconds"`
	TenantID                 string    `json:"tenantId"`
	Created                  bool      `json:"created"`
}

func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) error {
	var req registerRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	if err := firstError(req.Validate()); err != nil {
		return err
	}
	ctx := r.Context()
	sec, err := s.findSecret(ctx, req.ProvisioningSecret)
	if errors.Is(err, store.ErrNotFound) || (err == nil && sec.Kind != store.SecretProvisioning) {
		return unauthorized("invalid_secret", "invalid provisioning secret")
	}
	if err != nil {
		return err
	}
	ids := fingerprint.Normalize(fingerprint.Identifiers{
		SerialNumbers: req.SerialNumbers, MachineID: req.MachineID, MACAddresses: req.MACAddresses})
	now := s.now().UTC()
	m := store.Machine{
		ID: uuid.Must(uuid.NewV7()).String(), TenantID: sec.TenantID,
		Fingerprint: fingerprint.Compute(ids), Hostname: req.Hostname,
		OS:           store.OS{Name: req.OS.Name, Version: req.OS.Version, Architecture: req.OS.Architecture},
		MACAddresses: ids.MACAddresses, SerialNumbers: ids.SerialNumbers, HardwareUUID: ids.MachineID,
		Source: "agent", Inventory: nonNull(req.Inventory), CreatedAt: now, UpdatedAt: now,
	}
	client, _ := clientKind(req.Client) // validated above
	value, hash := token.New(token.Machine)
	tok := store.Token{Hash: hash, Client: client, CreatedAt: now, ExpiresAt: now.Add(s.cfg.TokenTTL)}
	stored, created, err := s.st.RegisterMachine(ctx, m, tok)
	if err != nil {
		return err
	}
	// Registration counts as being seen: record it like a heartbeat.
	hb := store.Heartbeat{MachineID: stored.ID, At: now, Status: "registered",
		AgentVersion: req.AgentVersion, Metrics: nonNull(req.Metrics)}
	if err := s.batcher.Submit(ctx, hb); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "machine registered", "machine_id", stored.ID, "tenant_id", stored.TenantID,
		"client", client, "created", created)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, registerResponse{
		MachineID: stored.ID, MachineToken: value, ExpiresAt: tok.ExpiresAt, TenantID: stored.TenantID,
		HeartbeatIntervalSeconds: s.nextInterval(), Created: created,
	})
	return nil
}

// nextInterval is the heartbeat interval with up to 10% jitter, so a fleet
// that started together does not stay in lock-step.
func (s *Server) nextInterval() int {
	base := s.cfg.HeartbeatInterval.Seconds()
	return int(base + rand.Float64()*base/10)
}

func nonNull(raw json.RawMessage) json.RawMessage {
	if string(raw) == "null" {
		return nil
	}
	return raw
}

// firstError returns the first error of an errors.Join, so the client sees
// one field-level message.
func firstError(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if errs := j.Unwrap(); len(errs) > 0 {
			return errs[0]
		}
	}
	return err
}

// Metrics limits: keys per object and bytes per key.
const (
	maxMetricKeys   = 64
	maxMetricKeyLen = 64
)

// percentMetrics are the well-known metrics that are percentages; "uptime"
// is seconds.
var percentMetrics = map[string]bool{"cpu": true, "memory": true, "disk": true}

// metricsObject checks heartbeat and registration metrics: a flat JSON
// object of finite numbers (documented in machineapi.HeartbeatRequest);
// cpu, memory and disk are percentages (0 to 100) and uptime is seconds
// (not negative). Nested objects, strings and numbers that do not fit a
// float64 (1e400) are refused, so what is stored and shown is what the
// admin page and the charts can read.
func metricsObject(raw json.RawMessage) error {
	if err := object("metrics", raw, maxMetrics); err != nil || raw == nil || string(raw) == "null" {
		return err
	}
	if ok, err := flatMetrics(raw); ok {
		return err
	}
	return metricsMap(raw)
}

// metricsMap is metricsObject's general path: decode, then check each metric.
func metricsMap(raw json.RawMessage) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return badRequest("metrics", "must be a JSON object")
	}
	if len(m) > maxMetricKeys {
		return badRequest("metrics", "more than %d keys", maxMetricKeys)
	}
	for k, v := range m {
		if err := text("metrics", k, true, maxMetricKeyLen); err != nil {
			return err
		}
		if err := metricValue(k, v); err != nil {
			return err
		}
	}
	return nil
}

// flatMetrics checks, without decoding into a map, the common shape of
// metrics: an object of plain keys (no escapes) and numbers, as the agent
// sends every heartbeat. raw is already valid JSON (the body was decoded).
// It answers ok=false for anything else — escapes, other value types, odd
// spacing — and metricsObject's general path then checks and reports it.
func flatMetrics(raw []byte) (ok bool, err error) {
	i := 0
	skip := func() {
		for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
			i++
		}
	}
	skip()
	if i >= len(raw) || raw[i] != '{' {
		return false, nil
	}
	i++
	skip()
	if i < len(raw) && raw[i] == '}' {
		return true, nil
	}
	keys := 0
	for {
		skip()
		if i >= len(raw) || raw[i] != '"' {
			return false, nil
		}
		end := bytes.IndexByte(raw[i+1:], '"')
		if end < 0 {
			return false, nil
		}
		key := raw[i+1 : i+1+end]
		if bytes.IndexByte(key, '\\') >= 0 {
			return false, nil
		}
		i += end + 2
		skip()
		if i >= len(raw) || raw[i] != ':' {
			return false, nil
		}
		i++
		skip()
		start := i
		for i < len(raw) && strings.IndexByte("-+.eE0123456789", raw[i]) >= 0 {
			i++
		}
		if start == i {
			return false, nil // not a number: the general path names the type
		}
		if keys++; keys > maxMetricKeys {
			return false, nil
		}
		k := string(key)
		if err := text("metrics", k, true, maxMetricKeyLen); err != nil {
			return true, err
		}
		if err := metricNumber(k, string(raw[start:i])); err != nil {
			return true, err
		}
		skip()
		if i >= len(raw) {
			return false, nil
		}
		switch raw[i] {
		case ',':
			i++
		case '}':
			i++
			skip()
			return i == len(raw), nil
		default:
			return false, nil
		}
	}
}

// metricValue checks one metric.
func metricValue(k string, v any) error {
	n, ok := v.(json.Number)
	if !ok {
		return badRequest("metrics."+k, "must be a number (metrics are a flat object of numbers), not %s", valueKind(v))
	}
	return metricNumber(k, string(n))
}

// metricNumber checks one metric's number (its JSON text).
func metricNumber(k, n string) error {
	field := "metrics." + k
	f, err := strconv.ParseFloat(n, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return badRequest(field, "is not a finite number (out of the float64 range)")
	}
	switch {
	case percentMetrics[k] && (f < 0 || f > 100):
		return badRequest(field, "is a percentage: 0 to 100")
	case k == "uptime" && f < 0:
		return badRequest(field, "is seconds: not negative")
	}
	return nil
}

// valueKind names the JSON type of a decoded value, for error messages.
func valueKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	}
	return "a number"
}
