package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

type sessionResponse struct {
	Token     string    `json:"token"`
	TokenType string    `json:"tokenType"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// emptyRequest is the body of endpoints that take none: empty or {}.
type emptyRequest struct{}

func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) error {
	if err := decodeOptional(w, r, s.cfg.MaxBodyBytes, &emptyRequest{}); err != nil {
		return err
	}
	c, _ := MachineFromContext(r.Context())
	jwt, exp, err := s.issueSession(r.Context(), w, c, time.Time{})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sessionResponse{Token: jwt, TokenType: "Bearer", ExpiresAt: exp})
	return nil
}

// issueSession signs a session JWT for c and sets it as the session cookie.
// A session asked for before the machine's sessions were revoked (the
// handshake code's creation time; zero when asked for now with a valid
// token) is refused. Sessions whose iat (whole seconds) is not after the
// revocation are refused (checkSession), so a session issued in the same
// second as a revocation, after it, gets the next second as its iat.
func (s *Server) issueSession(ctx context.Context, w http.ResponseWriter, c Caller, asked time.Time) (string, time.Time, error) {
	now := s.now()
	revoked, err := s.st.SessionsRevokedAt(ctx, c.MachineID)
	if errors.Is(err, store.ErrNotFound) {
		return "", time.Time{}, unauthorized("session_revoked", "the machine no longer exists")
	}
	if err != nil {
		return "", time.Time{}, err
	}
	if !asked.IsZero() && !asked.After(revoked) {
		return "", time.Time{}, unauthorized("session_revoked", "the machine's token was revoked after this code was issued")
	}
	if iat := time.Unix(now.Unix(), 0); !iat.After(revoked) {
		now = revoked.Truncate(time.Second).Add(time.Second)
	}
	jwt, claims, err := s.sessions.Issue(ctx, c.MachineID, c.TenantID, now, s.cfg.SessionTTL)
	if err != nil {
		return "", time.Time{}, err
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: jwt, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: strings.HasPrefix(s.cfg.PublicURL, "https://"), MaxAge: int(s.cfg.SessionTTL.Seconds()),
	})
	return jwt, time.Unix(claims.ExpiresAt, 0).UTC(), nil
}
