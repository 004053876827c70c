package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrInvalid: a record fails the store's own checks (a field too long, not
// UTF-8, missing); the message names the field.
var ErrInvalid = errors.New("store: invalid")

// Size limits of audit entry fields, in bytes.
const (
	MaxAuditTenant = 64
	MaxAuditActor  = 128 // each of ActorID and ActorName
	MaxAuditAction = 32
	MaxAuditTarget = 256
	MaxAuditDetail = 2048
	MaxAuditResult = 512
)

// Audit list page sizes.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 500
)

// Actions the server records in the audit log.
const (
	AuditLogin         = "login"
	AuditLogout        = "logout"
	AuditPause         = "pause"
	AuditResume        = "resume"
	AuditRollback      = "rollback"
	AuditRevokeToken   = "revoke-token"
	AuditRotateToken   = "rotate-token"
	AuditDeleteMachine = "delete-machine"
	AuditCreateTenant  = "create-tenant"
	AuditCreateSecret  = "create-secret"
	AuditRotateSecret  = "rotate-secret"
	AuditRevokeSecret  = "revoke-secret"
	// Decisions of the rollout gates (updater/gate), made by the server.
	AuditRolloutStart   = "rollout-start"
	AuditRolloutAdvance = "rollout-advance"
	AuditRolloutHalt    = "rollout-halt"
	AuditRolloutResume  = "rollout-resume" // a human lifted a halt (slipway gate resume)
	// AuditDenied: a request refused because the token's role or tenant
	// does not allow it (403); Target is "METHOD path".
	AuditDenied           = "denied"
	AuditCreateAdminToken = "create-admin-token"
	AuditRevokeAdminToken = "revoke-admin-token"
	AuditRotateAdminToken = "rotate-admin-token"
	AuditRotateSessionKey = "rotate-session-key"
)

// AuditActions lists the actions above, sorted (the admin page suggests
// them in its filter).
var AuditActions = []string{AuditCreateAdminToken, AuditCreateSecret, AuditCreateTenant, AuditDeleteMachine, AuditDenied,
	AuditLogin, AuditLogout, AuditPause, AuditResume, AuditRevokeAdminToken, AuditRevokeSecret, AuditRevokeToken,
	AuditRollback, AuditRolloutAdvance, AuditRolloutHalt, AuditRolloutResume, AuditRolloutStart,
	AuditRotateAdminToken, AuditRotateSecret, AuditRotateSessionKey, AuditRotateToken}

// AuditOK is the Result of an action that succeeded.
const AuditOK = "ok"

// AuditEntry is one admin action, as the audit log keeps it. It names the
// admin token that acted (its ID and name, never its value) and carries no
// secret.
type AuditEntry struct {
	ID        int64     // assigned by AppendAudit, increasing; ignored on append
	At        time.Time // when the action happened
	TenantID  string    // the tenant acted on; "" for global actions (channels, global admin sign-in)
	ActorID   string    // admin token ID
	ActorName string    // admin token name
	Action    string    // short word: login, pause, revoke-token, ... (lower case, digits, dashes)
	Target    string    // what was acted on: "agent/stable", a machine ID, a secret ID
	Detail    string    // small JSON object or text; may be ""
	Result    string    // AuditOK or the error text
}

var auditActionRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// ValidAuditAction reports whether a is an action word (lower case, digits,
// dashes; at most MaxAuditAction bytes).
func ValidAuditAction(a string) bool {
	return len(a) <= MaxAuditAction && auditActionRE.MatchString(a)
}

// Validate checks the entry's fields against the limits above; the error
// wraps ErrInvalid and names the field.
func (e AuditEntry) Validate() error {
	bad := func(field, why string) error { return fmt.Errorf("audit entry %s: %s: %w", field, why, ErrInvalid) }
	if e.At.IsZero() {
		return bad("at", "is required")
	}
	if len(e.Action) > MaxAuditAction || !auditActionRE.MatchString(e.Action) {
		return bad("action", fmt.Sprintf("must be 1-%d lower-case letters, digits or dashes", MaxAuditAction))
	}
	if e.Result == "" {
		return bad("result", "is required")
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{
		{"tenant", e.TenantID, MaxAuditTenant}, {"actor id", e.ActorID, MaxAuditActor},
		{"actor name", e.ActorName, MaxAuditActor}, {"target", e.Target, MaxAuditTarget},
		{"detail", e.Detail, MaxAuditDetail}, {"result", e.Result, MaxAuditResult},
	} {
		switch {
		case len(f.v) > f.max:
			return bad(f.name, fmt.Sprintf("longer than %d bytes", f.max))
		case !utf8.ValidString(f.v) || strings.ContainsRune(f.v, 0):
			return bad(f.name, "is not UTF-8 text")
		}
	}
	return nil
}

// AuditQuery selects a page of the audit log, newest first.
type AuditQuery struct {
	TenantID string // "" = every tenant (and global entries)
	Action   string // "" = every action
	Failed   bool   // only entries whose Result is not AuditOK
	Before   int64  // keyset cursor: only IDs less than this; 0 = from the newest
	Limit    int    // 1 to MaxAuditLimit; 0 = DefaultAuditLimit
}

// Validate checks the query; the error wraps ErrInvalid.
func (q AuditQuery) Validate() error {
	switch {
	case q.Before < 0:
		return fmt.Errorf("audit query: negative cursor: %w", ErrInvalid)
	case q.Limit < 0 || q.Limit > MaxAuditLimit:
		return fmt.Errorf("audit query: limit must be 1-%d: %w", MaxAuditLimit, ErrInvalid)
	case len(q.TenantID) > MaxAuditTenant:
		return fmt.Errorf("audit query: tenant longer than %d bytes: %w", MaxAuditTenant, ErrInvalid)
	case q.Action != "" && !ValidAuditAction(q.Action):
		return fmt.Errorf("audit query: action must be a short lower-case word: %w", ErrInvalid)
	}
	return nil
}

// PageLimit is the query's limit with the default applied.
func (q AuditQuery) PageLimit() int {
	if q.Limit == 0 {
		return DefaultAuditLimit
	}
	return q.Limit
}

// AuditStore keeps the audit log of admin actions. Entries are never
// changed; the server deletes them only when they outlive the configured
// retention (Config.AuditRetention).
type AuditStore interface {
	// AppendAudit validates and stores e (its ID is assigned).
	AppendAudit(ctx context.Context, e AuditEntry) error
	// ListAudit returns entries newest first (by ID); see AuditQuery.
	ListAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
	// PruneAudit deletes entries whose At is before before.
	PruneAudit(ctx context.Context, before time.Time) (int64, error)
}

// AuditResult is the Result text of an action's outcome: AuditOK for nil,
// otherwise the error text cut to MaxAuditResult bytes (at a rune boundary).
// Callers must only pass errors whose text carries no secret.
func AuditResult(err error) string {
	if err == nil {
		return AuditOK
	}
	return Truncate(strings.ToValidUTF8(strings.ReplaceAll(err.Error(), "\x00", ""), "?"), MaxAuditResult)
}

// Truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// AuditCursor encodes the ID of a page's last entry as the next page's
// cursor (opaque base64url, like the machines list cursor).
func AuditCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}

// ParseAuditCursor decodes an AuditCursor into AuditQuery.Before.
func ParseAuditCursor(c string) (int64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(raw) == 0 || len(raw) > 19 {
		return 0, fmt.Errorf("audit cursor: %w", ErrInvalid)
	}
	id, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != string(raw) {
		return 0, fmt.Errorf("audit cursor: %w", ErrInvalid)
	}
	return id, nil
}
