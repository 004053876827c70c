package server

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/token"
)

// adminTokenView is an admin token as the API shows it: never the secret,
// only its hint; Token is set once, in the answer that created it.
type adminTokenView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	TenantID  string     `json:"tenantId"`
	Hint      string     `json:"hint"`
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
	Token     string     `json:"token,omitempty"`
}

func adminTokenOut(t store.AdminToken) adminTokenView {
	return adminTokenView{ID: t.ID, Name: t.Name, Role: roleOf(t), TenantID: t.TenantID, Hint: t.Hint,
		CreatedAt: t.CreatedAt, ExpiresAt: optTime(t.ExpiresAt), RevokedAt: optTime(t.RevokedAt)}
}

type createAdminTokenRequest struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	TenantID  string    `json:"tenantId"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// maxAdminTokenLife bounds an admin token's expiry.
const maxAdminTokenLife = 2 * 365 * 24 * time.Hour

// Validate checks the request against the calling token: a token creates
// tokens no wider than itself (its tenant, at most its role).
func (q *createAdminTokenRequest) Validate(caller store.AdminToken, now time.Time) error {
	if err := text("name", q.Name, true, 64); err != nil {
		return err
	}
	if !slices.Contains(store.Roles, q.Role) {
		return badRequest("role", "must be one of viewer, release-manager, admin")
	}
	if q.TenantID != "" && !tenantIDRE.MatchString(q.TenantID) {
		return badRequest("tenantId", "must be 1-63 lower-case letters, digits or dashes")
	}
	if q.ExpiresAt.IsZero() {
		return badRequest("expiresAt", "is required (an RFC 3339 time, at most two years ahead)")
	}
	if !q.ExpiresAt.After(now) || q.ExpiresAt.After(now.Add(maxAdminTokenLife)) {
		return badRequest("expiresAt", "must be in the future and at most two years ahead")
	}
	if caller.TenantID != "" && q.TenantID != caller.TenantID {
		return &Error{Status: http.StatusForbidden, Code: "forbidden", Field: "tenantId",
			Message: "a tenant-scoped token creates tokens of its own tenant only"}
	}
	if store.RoleRank(q.Role) > store.RoleRank(caller.Role) {
		return &Error{Status: http.StatusForbidden, Code: "forbidden_role", Field: "role",
			Message: "a token cannot create a token of a higher role than its own"}
	}
	return nil
}

// newAdminToken stores a fresh token shaped like t and returns its view
// with the secret.
func (s *Server) newAdminToken(r *http.Request, t store.AdminToken) (adminTokenView, error) {
	value, hash := token.New(token.Admin)
	t.ID, t.Hash, t.Hint, t.CreatedAt, t.RevokedAt = uuid.Must(uuid.NewV7()).String(), hash, token.Hint(value), s.now().UTC(), time.Time{}
	if t.TenantID != "" {
		if _, err := s.st.GetTenant(r.Context(), t.TenantID); errors.Is(err, store.ErrNotFound) {
			return adminTokenView{}, badRequest("tenantId", "no such tenant")
		} else if err != nil {
			return adminTokenView{}, err
		}
	}
	if err := s.st.CreateAdminToken(r.Context(), t); err != nil {
		return adminTokenView{}, err
	}
	v := adminTokenOut(t)
	v.Token = value
	return v, nil
}

func (s *Server) handleCreateAdminToken(w http.ResponseWriter, r *http.Request) error {
	var req createAdminTokenRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	if err := req.Validate(adminToken(r.Context()), s.now()); err != nil {
		return err
	}
	v, err := s.newAdminToken(r, store.AdminToken{Name: req.Name, Role: req.Role, TenantID: req.TenantID, ExpiresAt: req.ExpiresAt.UTC()})
	s.audit(r, store.AuditCreateAdminToken, req.TenantID, v.ID, map[string]any{"name": req.Name, "role": req.Role}, err)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) handleListAdminTokens(w http.ResponseWriter, r *http.Request) error {
	all, err := s.st.ListAdminTokens(r.Context())
	if err != nil {
		return err
	}
	out := []adminTokenView{}
	for _, t := range all {
		if allowTenant(r.Context(), t.TenantID) == nil {
			out = append(out, adminTokenOut(t))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
	return nil
}

// pathAdminToken finds the token of the {tokenID} path parameter within
// the caller's scope.
func (s *Server) pathAdminToken(r *http.Request) (store.AdminToken, error) {
	id := chi.URLParam(r, "tokenID")
	all, err := s.st.ListAdminTokens(r.Context())
	if err != nil {
		return store.AdminToken{}, err
	}
	for _, t := range all {
		if t.ID == id && allowTenant(r.Context(), t.TenantID) == nil {
			return t, nil
		}
	}
	return store.AdminToken{}, errNotFound
}

// handleRevokeAdminToken revokes a token; the admin API and every admin
// page session opened with it are refused from the next request on, on
// every replica (both read the token's state per request).
func (s *Server) handleRevokeAdminToken(w http.ResponseWriter, r *http.Request) error {
	if err := decodeOptional(w, r, s.cfg.MaxBodyBytes, &emptyRequest{}); err != nil {
		return err
	}
	t, err := s.pathAdminToken(r)
	if err != nil {
		return err
	}
	err = s.st.RevokeAdminToken(r.Context(), t.ID, s.now().UTC())
	if errors.Is(err, store.ErrNotFound) {
		err = &Error{Status: http.StatusConflict, Code: "already_revoked", Message: "the token was already revoked"}
	}
	s.audit(r, store.AuditRevokeAdminToken, t.TenantID, t.ID, map[string]any{"name": t.Name}, err)
	if err != nil {
		return err
	}
	t.RevokedAt = s.now().UTC()
	writeJSON(w, http.StatusOK, adminTokenOut(t))
	return nil
}

// handleRotateAdminToken issues a new secret for a token (same name, role,
// tenant and expiry, new ID) and revokes the old one.
func (s *Server) handleRotateAdminToken(w http.ResponseWriter, r *http.Request) error {
	if err := decodeOptional(w, r, s.cfg.MaxBodyBytes, &emptyRequest{}); err != nil {
		return err
	}
	old, err := s.pathAdminToken(r)
	if err != nil {
		return err
	}
	if !old.Active(s.now()) {
		return &Error{Status: http.StatusConflict, Code: "inactive_token", Message: "only an active token can be rotated"}
	}
	v, err := s.newAdminToken(r, old)
	if err == nil {
		err = s.st.RevokeAdminToken(r.Context(), old.ID, s.now().UTC())
	}
	s.audit(r, store.AuditRotateAdminToken, old.TenantID, old.ID, map[string]any{"name": old.Name, "newTokenId": v.ID}, err)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}
