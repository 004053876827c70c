// Package machineapi is the client side of Slipway's machine API (the
// endpoints machines call: register, heartbeat, sessions, handshake, me).
// Both slipway-agent and slipway-desktop use it. Bodies are camelCase JSON as
// the server defines them; unknown response fields are ignored so an older
// client keeps working against a newer server.
package machineapi

import "time"

// OS identifies the operating system in a registration.
type OS struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
}

// RegisterRequest is the body of POST /api/machines/register.
type RegisterRequest struct {
	ProvisioningSecret string         `json:"provisioningSecret"`
	Hostname           string         `json:"hostname"`
	OS                 OS             `json:"os"`
	MACAddresses       []string       `json:"macAddresses"`
	SerialNumbers      []string       `json:"serialNumbers"`
	MachineID          string         `json:"machineId,omitempty"`
	AgentVersion       string         `json:"agentVersion,omitempty"`
	Inventory          map[string]any `json:"inventory,omitempty"`
	Metrics            map[string]any `json:"metrics,omitempty"`
	// Client is the kind of program registering: ClientAgent (also "") or
	// ClientDesktop. Re-registering revokes only the earlier tokens of the
	// same kind, so the agent's and the desktop client's tokens coexist.
	// Empty is left out of the body, which servers from before client
	// kinds accept.
	Client string `json:"client,omitempty"`
}

// Client kinds of RegisterRequest.Client.
const (
	ClientAgent   = "agent"
	ClientDesktop = "desktop"
)

// RegisterResponse is the answer to a registration. MachineToken is shown
// only here; the caller must store it.
type RegisterResponse struct {
	MachineID                string    `json:"machineId"`
	MachineToken             string    `json:"machineToken"`
	ExpiresAt                time.Time `json:"expiresAt"`
	HeartbeatIntervalSeconds int       `json:"heartbeatIntervalSeconds"`
	TenantID                 string    `json:"tenantId,omitempty"`
	// Created is false when the same hardware was registered before (the
	// existing machine got a fresh token; the old one stopped working).
	Created bool `json:"created"`
}

// HeartbeatRequest is the body of POST /api/machines/heartbeat. The token
// travels in the Authorization header, never in the body or a URL.
// Metrics "cpu", "memory", "disk" (percent used) and "uptime" (seconds) are
// the keys the server knows; others are kept as they are.
type HeartbeatRequest struct {
	// Status is a short lower-case word: ok, degraded, error. Default: ok.
	Status       string         `json:"status"`
	Metrics      map[string]any `json:"metrics,omitempty"`
	AgentVersion string         `json:"agentVersion,omitempty"`
	Inventory    map[string]any `json:"inventory,omitempty"`
	// SoftwareHash is SoftwareHash of the machine's software list; the
	// server answers SoftwareNeeded when it does not have that list.
	// Empty (left out) when the client does not collect software.
	SoftwareHash string `json:"softwareHash,omitempty"`
}

// HeartbeatResponse is the answer to a heartbeat. MachineToken and ExpiresAt
// are set when the server rotates or renews the token in the answer.
type HeartbeatResponse struct {
	HeartbeatIntervalSeconds int       `json:"heartbeatIntervalSeconds"`
	ServerTime               time.Time `json:"serverTime"`
	ExpiresAt                time.Time `json:"expiresAt"`
	MachineToken             string    `json:"machineToken,omitempty"`
	// SoftwareNeeded asks for the full software list (UploadSoftware): the
	// server does not have the list of the heartbeat's SoftwareHash.
	SoftwareNeeded bool `json:"softwareNeeded,omitempty"`
}

// SessionResponse is the answer to POST /api/machines/sessions: a short-lived
// signed JWT for this machine.
type SessionResponse struct {
	Token     string    `json:"token"`
	TokenType string    `json:"tokenType"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// HandshakeResponse is the answer to POST /api/machines/handshake: a one-time
// code to put in the browser URL (GET /machines/handshake?code=...).
type HandshakeResponse struct {
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expiresAt"`
	URL       string    `json:"url,omitempty"`
}

// Tenant names the machine's tenant.
type Tenant struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Machine is the summary GET /api/machines/me returns.
type Machine struct {
	MachineID       string         `json:"machineId"`
	Name            string         `json:"name"`
	Tenant          Tenant         `json:"tenant"`
	OS              OS             `json:"os"`
	AgentVersion    string         `json:"agentVersion"`
	Status          string         `json:"status"`
	LastHeartbeatAt *time.Time     `json:"lastHeartbeatAt"`
	Highlights      map[string]any `json:"highlights,omitempty"`
}
