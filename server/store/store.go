// Package store defines the storage the machine API server needs: tenants,
// their provisioning and Fleet secrets, machines, machine tokens, heartbeats,
// browser handshake codes, admin tokens, the keys that sign sessions and the
// audit log of admin actions.
//
// The interface is database-agnostic. Secrets and tokens only ever reach it as
// SHA-256 hashes. Implementations live in subpackages (sqlite) and are all
// checked by the same conformance suite in storetest.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Errors returned by every implementation; match them with errors.Is.
var (
	// ErrNotFound: the record does not exist (or is no longer usable, for
	// handshake codes).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a record with the same unique key already exists.
	ErrConflict = errors.New("store: conflict")
	// ErrUnavailable: the store cannot take the write now but nothing is
	// lost; the caller may retry later (the server answers 503).
	ErrUnavailable = errors.New("store: temporarily unavailable")
)

// Store is everything the server keeps. All times are stored with millisecond
// precision; a zero time.Time means "not set".
type Store interface {
	TenantStore
	SecretStore
	MachineStore
	TokenStore
	HeartbeatStore
	HandshakeStore
	AdminTokenStore
	SigningKeyStore
	AuditStore
	AdminSessionStore
	SSOSessionStore
	SoftwareStore

	// Ping reports whether the database answers (used by /readyz).
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// Tenant is an isolated group of machines.
type Tenant struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// TenantStore keeps tenants.
type TenantStore interface {
	CreateTenant(ctx context.Context, t Tenant) error // ErrConflict on duplicate ID
	GetTenant(ctx context.Context, id string) (Tenant, error)
	ListTenants(ctx context.Context) ([]Tenant, error) // ordered by ID
}

// SecretKind says what a tenant secret authorises.
type SecretKind string

const (
	// SecretProvisioning lets a machine register into the tenant.
	SecretProvisioning SecretKind = "provisioning"
	// SecretFleet authenticates FleetDM webhooks for the tenant.
	SecretFleet SecretKind = "fleet"
)

// Secret is a tenant secret, stored only as the SHA-256 hash of its value.
type Secret struct {
	ID        string
	TenantID  string
	Kind      SecretKind
	Hash      []byte
	Hint      string // a short non-secret prefix shown in listings
	CreatedAt time.Time
	RevokedAt time.Time
}

// SecretStore keeps tenant secrets.
type SecretStore interface {
	CreateSecret(ctx context.Context, s Secret) error // ErrConflict on duplicate ID or hash
	// FindSecret returns the secret with this hash, revoked or not.
	FindSecret(ctx context.Context, hash []byte) (Secret, error)
	ListSecrets(ctx context.Context, tenantID string) ([]Secret, error) // oldest first
	// RevokeSecret marks the secret revoked; ErrNotFound when it is not in the tenant.
	RevokeSecret(ctx context.Context, tenantID, id string, at time.Time) error
}

// OS describes a machine's operating system.
type OS struct {
	Name         string
	Version      string
	Architecture string
}

// Machine is a registered machine, or an inventory-only record created by a
// Fleet sync (Fingerprint empty, no tokens).
type Machine struct {
	ID            string
	TenantID      string
	Fingerprint   string // hash of the normalised hardware identifiers; "" for inventory-only
	Hostname      string
	OS            OS
	MACAddresses  []string
	SerialNumbers []string
	HardwareUUID  string
	Source        string // "agent" or "fleet"
	Fleet         json.RawMessage

	// Written by heartbeats.
	AgentVersion string
	Status       string
	Inventory    json.RawMessage
	Metrics      json.RawMessage
	LastSeenAt   time.Time

	CreatedAt time.Time
	UpdatedAt time.Time
}

// IdentifierKind names a machine identifier that FindMachine can match on.
type IdentifierKind string

const (
	BySerial   IdentifierKind = "serial"   // any of SerialNumbers, exact
	ByUUID     IdentifierKind = "uuid"     // HardwareUUID, case-insensitive
	ByHostname IdentifierKind = "hostname" // Hostname, case-insensitive
)

// MachineFilter selects machines for ListMachines. Zero fields do not filter.
type MachineFilter struct {
	TenantID     string
	OSName       string // case-insensitive exact match
	AgentVersion string
	Query        string    // case-insensitive substring of hostname, ID, serials or OS
	SeenAfter    time.Time // LastSeenAt > SeenAfter
	SeenBefore   time.Time // LastSeenAt <= SeenBefore, or never seen
	After        string    // keyset cursor: only IDs greater than this
	Limit        int       // default and maximum 500
}

// MachineStore keeps machines.
type MachineStore interface {
	// RegisterMachine inserts m, or, when a machine with the same TenantID and
	// non-empty Fingerprint exists, refreshes its descriptive fields (hostname,
	// OS, identifiers, inventory) keeping its ID. In both cases every active
	// token of the machine of the same client kind as tok (see Token.Client)
	// is revoked at tok.CreatedAt and tok is stored for it, in one
	// transaction; tokens of the other kind stay valid, so the agent and the
	// desktop client of one machine do not revoke each other. It returns the
	// stored machine and whether it was created.
	//
	// When no machine has the fingerprint, an inventory-only machine (empty
	// Fingerprint, made by a Fleet sync) matching m's serials, hardware UUID
	// or MACs (MatchIdentity, never the hostname) is adopted instead of
	// inserting: it takes m's Fingerprint, Source and descriptive fields and
	// keeps its ID, CreatedAt and Fleet data (created is false).
	RegisterMachine(ctx context.Context, m Machine, tok Token) (Machine, bool, error)
	// MergeMachine matches id to one of the tenant's machines with
	// MatchIdentity, lets merge fill it and writes UpdateMachine's fields and
	// Source; when none matches, merge fills a new inventory-only machine
	// with ID newID, which is inserted. Matching and writing are one
	// transaction, serialised with RegisterMachine's adoption for the tenant,
	// so one physical machine stays one row whichever source comes first.
	MergeMachine(ctx context.Context, tenantID, newID string, id Identity, merge MergeFunc) (Machine, Match, error)
	// CreateMachine inserts a machine without a token (Fleet inventory-only).
	CreateMachine(ctx context.Context, m Machine) error
	GetMachine(ctx context.Context, id string) (Machine, error)
	// FindMachine returns the oldest machine of the tenant matching value.
	FindMachine(ctx context.Context, tenantID string, kind IdentifierKind, value string) (Machine, error)
	// UpdateMachine writes the descriptive fields (Hostname, OS,
	// MACAddresses, SerialNumbers, HardwareUUID, Fleet, UpdatedAt) and
	// leaves the heartbeat fields alone.
	UpdateMachine(ctx context.Context, m Machine) error
	// ListMachines returns machines ordered by ID.
	ListMachines(ctx context.Context, f MachineFilter) ([]Machine, error)
	// DeleteMachine removes the machine, its tokens, heartbeats and handshakes.
	DeleteMachine(ctx context.Context, id string) error
}

// Client kinds of machine tokens: the program that enrolled with the token.
// A machine has at most one active token per kind.
const (
	ClientAgent   = "agent"   // the machine agent (slipway-agent); the default
	ClientDesktop = "desktop" // the desktop client (slipway-desktop)
)

// ClientOf returns the client kind of a token, "" reading as ClientAgent.
func ClientOf(t Token) string {
	if t.Client == "" {
		return ClientAgent
	}
	return t.Client
}

// Token is a machine token, stored only as the SHA-256 hash of its value.
type Token struct {
	Hash      []byte
	MachineID string
	TenantID  string
	// Client is the client kind (ClientAgent or ClientDesktop); "" is
	// stored as ClientAgent.
	Client    string
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt time.Time
}

// TokenStore keeps machine tokens.
type TokenStore interface {
	// GetToken returns the token with this hash, whatever its state.
	GetToken(ctx context.Context, hash []byte) (Token, error)
	// ReplaceToken revokes every active token of tok.MachineID, of every
	// client kind, at tok.CreatedAt and stores tok, atomically (the admin
	// rotation); the machine's sessions are revoked at tok.CreatedAt too.
	// ErrNotFound if the machine does not exist.
	ReplaceToken(ctx context.Context, tok Token) error
	// RevokeTokens revokes every active token of the machine, of every
	// client kind, and its sessions, and returns how many tokens.
	RevokeTokens(ctx context.Context, machineID string, at time.Time) (int, error)
	// SessionsRevokedAt returns when the machine's sessions were last
	// revoked: ReplaceToken and RevokeTokens set it to their time, and
	// sessions issued before it are refused. Zero when never;
	// ErrNotFound when the machine does not exist (deleted machines'
	// sessions are refused too). It is read on every session request, so
	// it must be a single indexed lookup and never cached across replicas.
	SessionsRevokedAt(ctx context.Context, machineID string) (time.Time, error)
}

// Heartbeat is one acknowledged heartbeat of a machine.
type Heartbeat struct {
	MachineID    string
	TokenHash    []byte    // the token used; its expiry becomes TokenExpiresAt
	At           time.Time // server receive time
	Status       string
	AgentVersion string          // "" keeps the machine's current value
	Metrics      json.RawMessage // stored in the history row and as the machine's latest
	Inventory    json.RawMessage // nil keeps the machine's current inventory
	// TokenExpiresAt is the new (sliding) expiry of TokenHash; it is only
	// applied while the token is not revoked.
	TokenExpiresAt time.Time
}

// HeartbeatStore keeps heartbeats.
type HeartbeatStore interface {
	// RecordHeartbeats persists a batch atomically: for each heartbeat, a
	// history row, the machine's last-seen fields and the token expiry.
	// Heartbeats of machines that no longer exist are dropped silently.
	RecordHeartbeats(ctx context.Context, hbs []Heartbeat) error
	// ListHeartbeats returns the machine's most recent heartbeats, newest
	// first (TokenHash and TokenExpiresAt are not returned).
	ListHeartbeats(ctx context.Context, machineID string, limit int) ([]Heartbeat, error)
	// CountHeartbeats counts the stored heartbeat history rows.
	CountHeartbeats(ctx context.Context) (int64, error)
	// PruneHeartbeats deletes history rows older than before.
	PruneHeartbeats(ctx context.Context, before time.Time) (int64, error)
}

// AdminSessionStore keeps the admin page sessions signed out before they
// expired (the session cookie itself is signed, not stored). IDs are
// hashes of the sessions' nonces, at most MaxAdminSessionID bytes.
type AdminSessionStore interface {
	// RevokeAdminSession records that session id is signed out; it is kept
	// until expiresAt, when the session would have expired anyway.
	// Revoking twice is not an error.
	RevokeAdminSession(ctx context.Context, id []byte, expiresAt time.Time) error
	// AdminSessionRevoked reports whether session id was signed out.
	AdminSessionRevoked(ctx context.Context, id []byte) (bool, error)
	// PruneAdminSessions forgets revocations that expired before before.
	PruneAdminSessions(ctx context.Context, before time.Time) (int64, error)
}

// MaxAdminSessionID bounds an admin session ID (a SHA-256 hash).
const MaxAdminSessionID = 64

// CheckAdminSessionID validates an admin session ID; the error wraps ErrInvalid.
func CheckAdminSessionID(id []byte) error {
	if len(id) == 0 || len(id) > MaxAdminSessionID {
		return fmt.Errorf("admin session id of %d bytes: %w", len(id), ErrInvalid)
	}
	return nil
}

// HeartbeatJournal is implemented by stores that acknowledge heartbeats
// from a local journal before folding them into the database (SQLite):
// UnfoldedHeartbeats is how many wait to be folded (a Prometheus gauge;
// it grows while the database fails).
type HeartbeatJournal interface {
	UnfoldedHeartbeats() int
}

// HeartbeatBatchWaiter is implemented by stores whose heartbeat batches
// should be held open for a moment to gather more heartbeats per
// transaction (heartbeat.Options.MaxWait): a database server shared by
// several replicas spends much of its CPU per transaction, not per row.
// The server's HeartbeatBatchWait setting overrides it.
type HeartbeatBatchWaiter interface {
	HeartbeatBatchWait() time.Duration
}

// Handshake is a one-time browser sign-in code, stored as its hash.
type Handshake struct {
	CodeHash  []byte
	MachineID string
	TenantID  string
	Redirect  string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// HandshakeStore keeps handshake codes.
type HandshakeStore interface {
	CreateHandshake(ctx context.Context, h Handshake) error
	// ConsumeHandshake deletes and returns the code if it exists and
	// ExpiresAt is after now; otherwise ErrNotFound. A code is returned at
	// most once, even to concurrent callers.
	ConsumeHandshake(ctx context.Context, codeHash []byte, now time.Time) (Handshake, error)
}

// Admin roles, least to most powerful. A token's role says what its
// holder may do on the admin API and the admin page; "" (tokens made before
// roles, such as the bootstrap token) is RoleAdmin.
const (
	// RoleViewer reads everything the token's scope covers, changes nothing.
	RoleViewer = "viewer"
	// RoleReleaseManager also promotes, pauses, resumes, rolls back and
	// rolls out releases; no secrets, tenants, machines' tokens or admin tokens.
	RoleReleaseManager = "release-manager"
	// RoleAdmin may do everything in its scope.
	RoleAdmin = "admin"
)

// Roles lists the roles, least powerful first.
var Roles = []string{RoleViewer, RoleReleaseManager, RoleAdmin}

// RoleRank orders roles (viewer 1, release manager 2, admin 3; "" is
// admin); 0 for an unknown role.
func RoleRank(role string) int {
	if role == "" {
		role = RoleAdmin
	}
	for i, r := range Roles {
		if r == role {
			return i + 1
		}
	}
	return 0
}

// AdminToken authorises the admin API; TenantID "" means every tenant.
type AdminToken struct {
	ID        string
	Name      string
	TenantID  string
	Role      string // RoleViewer, RoleReleaseManager, RoleAdmin; "" = RoleAdmin
	Hint      string // a short non-secret prefix shown in listings
	Hash      []byte
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
	RevokedAt time.Time
}

// Active reports whether the token may be used at now.
func (t AdminToken) Active(now time.Time) bool {
	return t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt))
}

// AdminTokenStore keeps admin tokens.
type AdminTokenStore interface {
	CreateAdminToken(ctx context.Context, t AdminToken) error // ErrConflict on duplicate ID or hash
	GetAdminToken(ctx context.Context, hash []byte) (AdminToken, error)
	// ListAdminTokens returns every admin token, revoked or not, oldest first.
	ListAdminTokens(ctx context.Context) ([]AdminToken, error)
	// RevokeAdminToken marks token id revoked at at; ErrNotFound when there
	// is no such active token.
	RevokeAdminToken(ctx context.Context, id string, at time.Time) error
}

// SigningKey is an Ed25519 key that signs machine sessions.
type SigningKey struct {
	ID        string // the JWT "kid"
	Seed      []byte // ed25519 seed, 32 bytes
	CreatedAt time.Time
	// RetiredAt is when a newer key took over signing (zero: it signs).
	RetiredAt time.Time
	// ExpiresAt is when the key leaves the JWKS and stops verifying, after
	// the last token it signed has expired (zero: not retired).
	ExpiresAt time.Time
}

// SigningKeyStore keeps session signing keys.
type SigningKeyStore interface {
	CreateSigningKey(ctx context.Context, k SigningKey) error
	SigningKeys(ctx context.Context) ([]SigningKey, error) // newest first
	// ReplaceSigningKeySeed swaps key id's stored seed from old to seed
	// (sealing a key stored before sealing was enabled). It is a
	// compare-and-swap: when the stored seed is no longer old (another
	// replica got there first), nothing changes and it returns ErrConflict.
	ReplaceSigningKeySeed(ctx context.Context, id string, old, seed []byte) error
	// RotateSigningKey adds k as the signing key and, in one transaction,
	// retires every other unretired key at k.CreatedAt with expiry
	// dropAfter, and deletes keys whose expiry is at or before k.CreatedAt.
	RotateSigningKey(ctx context.Context, k SigningKey, dropAfter time.Time) error
}

// LeaseStore coordinates replicas: a named lease has one holder at a
// time. Both built-in stores implement it.
type LeaseStore interface {
	// AcquireLease takes lease name for holder until now+ttl when it is
	// free, expired or already held by holder (a renewal), and reports
	// whether holder has it. Names and holders are 1..MaxLeaseName bytes.
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
}

// MaxLeaseName bounds lease names and holder identities.
const MaxLeaseName = 200

// CheckLease validates AcquireLease's arguments.
func CheckLease(name, holder string, ttl time.Duration) error {
	if name == "" || holder == "" || len(name) > MaxLeaseName || len(holder) > MaxLeaseName {
		return fmt.Errorf("%w: lease name and holder must be 1..%d bytes", ErrInvalid, MaxLeaseName)
	}
	if ttl <= 0 || ttl > 24*time.Hour {
		return fmt.Errorf("%w: lease ttl %v not in (0, 24h]", ErrInvalid, ttl)
	}
	return nil
}
