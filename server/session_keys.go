package server

import (
	"net/http"
	"time"

	"github.com/slipwayhq/slipway/server/session"
	"github.com/slipwayhq/slipway/server/store"
)

// adminPageSessionTTL is the admin page's session lifetime (adminui's
// default): its cookies are signed with the session signing keys too, so
// a retired key is kept until they have expired as well.
const adminPageSessionTTL = 8 * time.Hour

// sessionKeyView is a session signing key as the API shows it (never the seed).
type sessionKeyView struct {
	ID        string     `json:"id"`
	State     string     `json:"state"` // signing, verifying (retired, still in the JWKS), dropped
	CreatedAt time.Time  `json:"createdAt"`
	RetiredAt *time.Time `json:"retiredAt,omitempty"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

func sessionKeysOut(keys []store.SigningKey, now time.Time) []sessionKeyView {
	out := []sessionKeyView{}
	signing := false
	for _, k := range keys { // newest first: the newest unretired key signs
		v := sessionKeyView{ID: k.ID, CreatedAt: k.CreatedAt, RetiredAt: optTime(k.RetiredAt), ExpiresAt: optTime(k.ExpiresAt)}
		switch {
		case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
			v.State = "dropped"
		case k.RetiredAt.IsZero() && !signing:
			v.State, signing = "signing", true
		default:
			v.State = "verifying"
		}
		out = append(out, v)
	}
	return out
}

// keyRetention is how long a retired key stays in the JWKS: until every
// token it signed has expired. Replicas sign with it until their next
// reread (session.DefaultRefresh), and tokens may start up to session.Skew
// early.
func (s *Server) keyRetention() time.Duration {
	return session.DefaultRefresh + max(s.cfg.SessionTTL, adminPageSessionTTL) + session.Skew
}

// unscoped refuses tenant-scoped admin tokens: session keys are the
// installation's, not a tenant's.
func unscoped(r *http.Request) error {
	if adminToken(r.Context()).TenantID != "" {
		return &Error{Status: http.StatusForbidden, Code: "forbidden", Message: "session signing keys need an admin token of no tenant"}
	}
	return nil
}

func (s *Server) handleListSessionKeys(w http.ResponseWriter, r *http.Request) error {
	if err := unscoped(r); err != nil {
		return err
	}
	keys, err := s.sessions.Keys(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": sessionKeysOut(keys, s.now())})
	return nil
}

// handleRotateSessionKey adds a new signing key; the old ones stay in the
// JWKS for keyRetention.
func (s *Server) handleRotateSessionKey(w http.ResponseWriter, r *http.Request) error {
	if err := decodeOptional(w, r, s.cfg.MaxBodyBytes, &emptyRequest{}); err != nil {
		return err
	}
	if err := unscoped(r); err != nil {
		return err
	}
	now := s.now().UTC()
	k, err := s.sessions.Rotate(r.Context(), now, now.Add(s.keyRetention()))
	s.audit(r, store.AuditRotateSessionKey, "", k.ID, map[string]any{"keepOldUntil": now.Add(s.keyRetention())}, err)
	if err != nil {
		return err
	}
	keys, err := s.sessions.Keys(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": k.ID, "keys": sessionKeysOut(keys, now)})
	return nil
}
