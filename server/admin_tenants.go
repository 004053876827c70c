package server

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/token"
)

type tenantView struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

type secretView struct {
	ID        string     `json:"id"`
	TenantID  string     `json:"tenantId"`
	Kind      string     `json:"kind"`
	Hint      string     `json:"hint"`
	CreatedAt time.Time  `json:"createdAt"`
	RevokedAt *time.Time `json:"revokedAt"`
	// Secret is only set in the response that created it.
	Secret string `json:"secret,omitempty"`
}

func tenantOut(t store.Tenant) tenantView {
	return tenantView{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt}
}

func secretOut(sc store.Secret) secretView {
	return secretView{ID: sc.ID, TenantID: sc.TenantID, Kind: string(sc.Kind), Hint: sc.Hint,
		CreatedAt: sc.CreatedAt, RevokedAt: optTime(sc.RevokedAt)}
}

var tenantIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

type createTenantRequest struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Validate checks the request fields.
func (q *createTenantRequest) Validate() error {
	if !tenantIDRE.MatchString(q.ID) {
		return badRequest("id", "must be 1-63 lower-case letters, digits or dashes")
	}
	return text("name", q.Name, true, 128)
}

type createTenantResponse struct {
	Tenant             tenantView `json:"tenant"`
	ProvisioningSecret secretView `json:"provisioningSecret"`
}

// createSecret makes a new tenant secret and returns its value once.
func (s *Server) createSecret(ctx context.Context, tenantID string, kind store.SecretKind) (secretView, error) {
	prefix := token.Provisioning
	if kind == store.SecretFleet {
		prefix = token.Fleet
	}
	value, hash := token.New(prefix)
	sc := store.Secret{ID: uuid.Must(uuid.NewV7()).String(), TenantID: tenantID, Kind: kind, Hash: hash,
		Hint: token.Hint(value), CreatedAt: s.now().UTC()}
	if err := s.st.CreateSecret(ctx, sc); err != nil {
		return secretView{}, err
	}
	v := secretOut(sc)
	v.Secret = value
	return v, nil
}

func (s *Server) handleCreateTenant(w http.ResponseWriter, r *http.Request) error {
	var req createTenantRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	if err := req.Validate(); err != nil {
		return err
	}
	if adminScope(r.Context()) != "" {
		return errForbidden
	}
	t := store.Tenant{ID: req.ID, Name: req.Name, CreatedAt: s.now().UTC()}
	err := s.st.CreateTenant(r.Context(), t)
	if errors.Is(err, store.ErrConflict) {
		err = &Error{Status: http.StatusConflict, Code: "conflict", Field: "id", Message: "tenant already exists"}
	}
	var sec secretView
	if err == nil {
		sec, err = s.createSecret(r.Context(), t.ID, store.SecretProvisioning)
	}
	s.audit(r, store.AuditCreateTenant, t.ID, t.ID, map[string]any{"name": t.Name, "provisioningSecretId": sec.ID}, err)
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "tenant created", "tenant_id", t.ID)
	writeJSON(w, http.StatusCreated, createTenantResponse{Tenant: tenantOut(t), ProvisioningSecret: sec})
	return nil
}

func (s *Server) handleListTenants(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.st.ListTenants(r.Context())
	if err != nil {
		return err
	}
	out := struct {
		Items []tenantView `json:"items"`
	}{Items: []tenantView{}}
	for _, t := range ts {
		if allowTenant(r.Context(), t.ID) == nil {
			out.Items = append(out.Items, tenantOut(t))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// pathTenant loads the path's tenant within the admin token's scope.
func (s *Server) pathTenant(r *http.Request) (store.Tenant, error) {
	id := chi.URLParam(r, "tenantID")
	if !tenantIDRE.MatchString(id) || allowTenant(r.Context(), id) != nil {
		return store.Tenant{}, errNotFound
	}
	t, err := s.st.GetTenant(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return t, errNotFound
	}
	return t, err
}

func (s *Server) handleGetTenant(w http.ResponseWriter, r *http.Request) error {
	t, err := s.pathTenant(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tenantOut(t))
	return nil
}

func (s *Server) handleListSecrets(w http.ResponseWriter, r *http.Request) error {
	t, err := s.pathTenant(r)
	if err != nil {
		return err
	}
	list, err := s.st.ListSecrets(r.Context(), t.ID)
	if err != nil {
		return err
	}
	out := struct {
		Items []secretView `json:"items"`
	}{Items: []secretView{}}
	for _, sc := range list {
		out.Items = append(out.Items, secretOut(sc))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type createSecretRequest struct {
	Kind string `json:"kind"`
}

func secretKind(kind string) (store.SecretKind, error) {
	switch store.SecretKind(kind) {
	case "", store.SecretProvisioning:
		return store.SecretProvisioning, nil
	case store.SecretFleet:
		return store.SecretFleet, nil
	}
	return "", badRequest("kind", "must be provisioning or fleet")
}

func (s *Server) handleCreateSecret(w http.ResponseWriter, r *http.Request) error {
	var req createSecretRequest
	if err := decodeOptional(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	kind, err := secretKind(req.Kind)
	if err != nil {
		return err
	}
	t, err := s.pathTenant(r)
	if err != nil {
		return err
	}
	sec, err := s.createSecret(r.Context(), t.ID, kind)
	s.audit(r, store.AuditCreateSecret, t.ID, sec.ID, map[string]any{"kind": kind}, err)
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "secret created", "tenant_id", t.ID, "secret_id", sec.ID, "kind", sec.Kind)
	writeJSON(w, http.StatusCreated, sec)
	return nil
}

// pathSecret finds the path's secret (active or revoked) within the path's
// tenant, after checking that the request has no body.
func (s *Server) pathSecret(w http.ResponseWriter, r *http.Request) (store.Secret, error) {
	if err := decodeOptional(w, r, s.cfg.MaxBodyBytes, &emptyRequest{}); err != nil {
		return store.Secret{}, err
	}
	t, err := s.pathTenant(r)
	if err != nil {
		return store.Secret{}, err
	}
	id := chi.URLParam(r, "secretID")
	list, err := s.st.ListSecrets(r.Context(), t.ID)
	if err != nil {
		return store.Secret{}, err
	}
	for _, sc := range list {
		if sc.ID == id {
			return sc, nil
		}
	}
	return store.Secret{}, errNotFound
}

func (s *Server) handleRotateSecret(w http.ResponseWriter, r *http.Request) error {
	old, err := s.pathSecret(w, r)
	if err != nil {
		return err
	}
	sec, err := s.createSecret(r.Context(), old.TenantID, old.Kind)
	if err == nil {
		err = s.st.RevokeSecret(r.Context(), old.TenantID, old.ID, s.now().UTC())
	}
	s.audit(r, store.AuditRotateSecret, old.TenantID, old.ID, map[string]any{"kind": old.Kind, "newSecretId": sec.ID}, err)
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "secret rotated", "tenant_id", old.TenantID, "secret_id", old.ID, "new_secret_id", sec.ID)
	writeJSON(w, http.StatusCreated, sec)
	return nil
}

func (s *Server) handleRevokeSecret(w http.ResponseWriter, r *http.Request) error {
	old, err := s.pathSecret(w, r)
	if err != nil {
		return err
	}
	err = s.st.RevokeSecret(r.Context(), old.TenantID, old.ID, s.now().UTC())
	s.audit(r, store.AuditRevokeSecret, old.TenantID, old.ID, map[string]any{"kind": old.Kind}, err)
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "secret revoked", "tenant_id", old.TenantID, "secret_id", old.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
