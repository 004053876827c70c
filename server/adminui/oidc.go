package adminui

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/slipwayhq/slipway/server/store"
)

// flowCookie carries one sign-in's state, nonce and PKCE verifier from
// /admin/oidc/start to the callback: HttpOnly, signed, ten minutes.
const (
	flowCookie = "slipway_oidc"
	flowTTL    = 10 * time.Minute
	maxClaim   = 128 // email and subject bound, so the session cookie stays small
)

type flow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"x"`
	Expires  int64  `json:"e"`
}

// sso is the OIDC client: the provider is discovered on first use (and
// again after a failure), so a provider that is down at start does not
// stop the server.
type sso struct {
	cfg      OIDC
	mu       sync.Mutex
	provider *oidc.Provider
}

func (s *sso) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, s.cfg.HTTPClient)
}

func (s *sso) get() (*oidc.Provider, *oauth2.Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.provider == nil {
		// The provider's key set lives as long as this context: no deadline.
		p, err := oidc.NewProvider(s.ctx(context.Background()), s.cfg.Issuer)
		if err != nil {
			return nil, nil, fmt.Errorf("oidc: discovery of %s: %w", s.cfg.Issuer, err)
		}
		s.provider = p
	}
	scopes := s.cfg.Scopes
	if len(scopes) == 0 {
		// offline_access: a refresh token, so the session can be rechecked
		// for its whole life (docs/admin.md).
		scopes = []string{oidc.ScopeOpenID, "email", "profile", oidc.ScopeOfflineAccess}
	}
	return s.provider, &oauth2.Config{ClientID: s.cfg.ClientID, ClientSecret: s.cfg.ClientSecret, RedirectURL: s.cfg.RedirectURL,
		Endpoint: s.provider.Endpoint(), Scopes: scopes}, nil
}

func (u *UI) setFlowCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Value: value, Path: "/admin/oidc", HttpOnly: true, Secure: u.opts.Secure,
		SameSite: http.SameSiteLaxMode, MaxAge: maxAge}) // Lax: the provider redirects back with a top-level GET
}

// oidcStart sends the browser to the provider with a fresh state, nonce
// and PKCE challenge, kept in the flow cookie.
func (u *UI) oidcStart(w http.ResponseWriter, r *http.Request) {
	_, oc, err := u.sso.get()
	if err != nil {
		u.fail(w, r, err)
		return
	}
	f := flow{State: b64.EncodeToString(randomBytes(24)), Nonce: b64.EncodeToString(randomBytes(24)),
		Verifier: oauth2.GenerateVerifier(), Next: safeNext(r.URL.Query().Get("next")), Expires: u.opts.Now().Add(flowTTL).Unix()}
	v, err := u.sign(r.Context(), "oidc-flow", f)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.setFlowCookie(w, v, int(flowTTL/time.Second))
	http.Redirect(w, r, oc.AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)), http.StatusSeeOther)
}

// ssoUser is who the provider says signed in.
type ssoUser struct {
	sub, email string
	groups     []string
}

// oidcCallback finishes the sign-in: state, code exchange with the PKCE
// verifier, ID token and nonce, who is allowed, and the role. Every
// refusal is a 403 page and a "denied" audit entry; no token is logged.
func (u *UI) oidcCallback(w http.ResponseWriter, r *http.Request) {
	u.setFlowCookie(w, "", -1) // one use
	who, next, tok, err := u.ssoVerify(r)
	if err == nil {
		err = u.ssoAllowed(who)
	}
	var rule RoleRule
	if err == nil {
		rule, err = u.ssoRole(who)
	}
	if err != nil {
		var he *httpError
		if !errors.As(err, &he) {
			u.opts.Logger.WarnContext(r.Context(), "single sign-on refused", "err", err)
			err = &httpError{http.StatusForbidden, "single sign-on failed; start again from the sign-in page"}
		}
		s := session{TokenID: ssoActor(who.sub), name: who.email}
		u.audit(r.Context(), s, auditEvent{action: store.AuditDenied, target: "single sign-on", err: err,
			attrs: []any{"email", who.email, "groups", strings.Join(who.groups, ",")}})
		u.fail(w, r, err)
		return
	}
	s := session{User: who.email, Subject: who.sub, Role: rule.Role, Tenant: rule.Tenant, Nonce: randomBytes(16),
		Expires: u.opts.Now().Add(u.opts.SessionTTL).Unix(), TokenID: ssoActor(who.sub), name: who.email, role: rule.Role}
	v, err := u.encodeSession(r.Context(), s)
	if err == nil {
		err = u.keepGrant(r.Context(), s, tok)
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.setSessionCookie(w, v)
	u.audit(r.Context(), s, auditEvent{action: store.AuditLogin, tenant: s.Tenant, attrs: []any{"via", "oidc", "role", rule.Role}})
	// A 200 page that moves on, not a redirect: the session cookie is
	// SameSite=Strict, which a browser would not send on a redirect chain
	// that started at the provider.
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><meta http-equiv="refresh" content="0;url=%s"><a href="%s">Continue</a>`, templateEscape(next), templateEscape(next))
}

func templateEscape(s string) string {
	return strings.NewReplacer(`&`, "&amp;", `"`, "&quot;", `<`, "&lt;", `>`, "&gt;").Replace(s)
}

func ssoActor(sub string) string {
	if sub == "" {
		return "oidc"
	}
	return "oidc:" + sub
}

var errSSO = errors.New("oidc")

// ssoVerify checks the flow cookie and state, exchanges the code and
// verifies the ID token and nonce; it returns the user and where to go.
func (u *UI) ssoVerify(r *http.Request) (ssoUser, string, *oauth2.Token, error) {
	var who ssoUser
	c, err := r.Cookie(flowCookie)
	if err != nil {
		return who, "", nil, &httpError{http.StatusForbidden, "the sign-in expired or was started elsewhere; start again from the sign-in page"}
	}
	var f flow
	if _, err := u.verify(r.Context(), "oidc-flow", c.Value, &f); err != nil || u.opts.Now().Unix() >= f.Expires {
		return who, "", nil, &httpError{http.StatusForbidden, "the sign-in expired or was started elsewhere; start again from the sign-in page"}
	}
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		return who, "", nil, &httpError{http.StatusForbidden, "the sign-in's state does not match; start again from the sign-in page"}
	}
	if e := q.Get("error"); e != "" {
		return who, "", nil, &httpError{http.StatusForbidden, "the identity provider refused the sign-in (" + store.Truncate(e, 64) + ")"}
	}
	p, oc, err := u.sso.get()
	if err != nil {
		return who, "", nil, err
	}
	ctx := u.sso.ctx(r.Context())
	tok, err := oc.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return who, "", nil, fmt.Errorf("%w: code exchange: %w", errSSO, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.VerifierContext(ctx, &oidc.Config{ClientID: u.sso.cfg.ClientID, Now: u.opts.Now}).Verify(ctx, raw)
	if err != nil {
		return who, "", nil, fmt.Errorf("%w: ID token: %w", errSSO, err)
	}
	if !hmac.Equal([]byte(idt.Nonce), []byte(f.Nonce)) {
		return who, "", nil, fmt.Errorf("%w: ID token nonce does not match", errSSO)
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return who, "", nil, fmt.Errorf("%w: ID token claims: %w", errSSO, err)
	}
	groupsClaim := cmp.Or(u.sso.cfg.GroupsClaim, "groups")
	if _, ok := claims["email"]; !ok || claims[groupsClaim] == nil {
		// Not in the ID token: ask the userinfo endpoint (same subject).
		info, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil || info.Subject != idt.Subject {
			return who, "", nil, fmt.Errorf("%w: userinfo: %v", errSSO, err)
		}
		more := map[string]any{}
		if err := info.Claims(&more); err != nil {
			return who, "", nil, fmt.Errorf("%w: userinfo claims: %w", errSSO, err)
		}
		for k, v := range more {
			if _, ok := claims[k]; !ok {
				claims[k] = v
			}
		}
	}
	who, err = u.sso.user(idt.Subject, claims)
	return who, f.Next, tok, err
}

// user reads who signed in from the ID token's and userinfo's claims.
func (s *sso) user(sub string, claims map[string]any) (ssoUser, error) {
	who := ssoUser{sub: sub, groups: stringsOf(claims[cmp.Or(s.cfg.GroupsClaim, "groups")])}
	who.email, _ = claims["email"].(string)
	if len(who.sub) > maxClaim || len(who.email) > maxClaim {
		return who, &httpError{http.StatusForbidden, "the identity provider's subject or email is too long"}
	}
	if who.email == "" || claims["email_verified"] == false {
		return who, &httpError{http.StatusForbidden, "the identity provider gave no verified email address"}
	}
	return who, nil
}

func stringsOf(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, g := range v {
			if s, ok := g.(string); ok && len(s) <= maxClaim {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// ssoAllowed applies the allowed domains and groups (both, when both are set).
func (u *UI) ssoAllowed(who ssoUser) error {
	cfg := u.sso.cfg
	if len(cfg.AllowedDomains) > 0 && !slices.ContainsFunc(cfg.AllowedDomains, func(d string) bool { return strings.EqualFold(d, domainOf(who.email)) }) {
		return &httpError{http.StatusForbidden, who.email + " is not in a domain allowed to sign in here"}
	}
	if len(cfg.AllowedGroups) > 0 && !slices.ContainsFunc(cfg.AllowedGroups, func(g string) bool { return slices.Contains(who.groups, g) }) {
		return &httpError{http.StatusForbidden, who.email + " is not in a group allowed to sign in here"}
	}
	return nil
}

func (u *UI) ssoRole(who ssoUser) (RoleRule, error) {
	for _, rule := range u.sso.cfg.Roles {
		if rule.matches(who.email, who.groups) {
			return rule, nil
		}
	}
	return RoleRule{}, &httpError{http.StatusForbidden, who.email + " has no role here"}
}

// sign and verify are the signed-cookie format: base64(JSON).MAC.kid,
// the MAC keyed by the current session signing key and bound to label.
func (u *UI) sign(ctx context.Context, label string, v any) (string, error) {
	is, err := u.keys.issuer(ctx, u.opts.Now())
	if err != nil {
		return "", err
	}
	kid, key := is.CookieKey(ctx, u.opts.Now())
	payload, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	p := b64.EncodeToString(payload)
	return p + "." + b64.EncodeToString(mac(key, []byte(label), []byte(p))) + "." + kid, nil
}

func (u *UI) verify(ctx context.Context, label, value string, v any) ([]byte, error) {
	if len(value) > maxCookie {
		return nil, errNoSession
	}
	p, sig, ok := strings.Cut(value, ".")
	if !ok {
		return nil, errNoSession
	}
	sig, kid, _ := strings.Cut(sig, ".")
	is, err := u.keys.issuer(ctx, u.opts.Now())
	if err != nil {
		return nil, err
	}
	key, ok := is.CookieKeyFor(ctx, kid, u.opts.Now())
	if !ok {
		return nil, errNoSession
	}
	got, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(key, []byte(label), []byte(p))) {
		return nil, errNoSession
	}
	payload, err := b64.DecodeString(p)
	if err != nil || json.Unmarshal(payload, v) != nil {
		return nil, errNoSession
	}
	return key, nil
}

// ssoURL is the login page's single sign-on link.
func ssoURL(next string) string { return "/admin/oidc/start?next=" + url.QueryEscape(next) }
