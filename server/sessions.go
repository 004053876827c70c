package server

import (
	"net/http"
	"strings"
	"time"
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
	jwt, exp, err := s.issueSession(w, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sessionResponse{Token: jwt, TokenType: "Bearer", ExpiresAt: exp})
	return nil
}

// issueSession signs a session JWT for c and sets it as the session cookie.
func (s *Server) issueSession(w http.ResponseWriter, c Caller) (string, time.Time, error) {
	now := s.now()
	jwt, claims, err := s.sessions.Issue(c.MachineID, c.TenantID, now, s.cfg.SessionTTL)
	if err != nil {
		return "", time.Time{}, err
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: jwt, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: strings.HasPrefix(s.cfg.PublicURL, "https://"), MaxAge: int(s.cfg.SessionTTL.Seconds()),
	})
	return jwt, time.Unix(claims.ExpiresAt, 0).UTC(), nil
}
