package server

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/token"
)

type handshakeRequest struct {
	Redirect string `json:"redirect"`
}

type handshakeResponse struct {
	Code      string    `json:"code"`
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// allowedRedirect checks a redirect target against the allowlist.
func (s *Server) allowedRedirect(field, target string) error {
	if err := text(field, target, false, 2048); err != nil {
		return err
	}
	o, err := origin(target)
	if err != nil || !s.redirects[o] {
		return badRequest(field, "redirect target is not in the allowlist")
	}
	return nil
}

// handleHandshakeStart gives the desktop client a one-time code and the
// URL to open in the browser; the machine token never goes into a URL.
func (s *Server) handleHandshakeStart(w http.ResponseWriter, r *http.Request) error {
	var req handshakeRequest
	if err := decodeOptional(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	if req.Redirect != "" {
		if err := s.allowedRedirect("redirect", req.Redirect); err != nil {
			return err
		}
	}
	c, _ := MachineFromContext(r.Context())
	code, hash := token.New(token.Handshake)
	now := s.now().UTC()
	h := store.Handshake{CodeHash: hash, MachineID: c.MachineID, TenantID: c.TenantID, Redirect: req.Redirect,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.HandshakeTTL)}
	if err := s.st.CreateHandshake(r.Context(), h); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, handshakeResponse{
		Code: code, URL: s.cfg.PublicURL + "/machines/handshake?code=" + url.QueryEscape(code), ExpiresAt: h.ExpiresAt,
	})
	return nil
}

// handleHandshakeComplete redeems a code in the browser: it sets the session
// cookie and redirects to the portal (or the allowlisted target).
func (s *Server) handleHandshakeComplete(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	code := q.Get("code")
	if err := text("code", code, true, token.MaxLen); err != nil {
		return err
	}
	target := q.Get("redirect")
	if target != "" {
		if err := s.allowedRedirect("redirect", target); err != nil {
			return err
		}
	}
	h, err := s.st.ConsumeHandshake(r.Context(), token.Hash(code), s.now())
	if errors.Is(err, store.ErrNotFound) {
		return unauthorized("invalid_code", "handshake code is invalid, used or expired")
	}
	if err != nil {
		return err
	}
	if _, _, err := s.issueSession(r.Context(), w, Caller{MachineID: h.MachineID, TenantID: h.TenantID}, h.CreatedAt); err != nil {
		return err
	}
	switch {
	case target != "":
	case h.Redirect != "":
		target = h.Redirect
	default:
		target = s.cfg.PortalURL
	}
	http.Redirect(w, r, target, http.StatusFound)
	return nil
}
