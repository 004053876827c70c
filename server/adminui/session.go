package adminui

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	jwtsession "github.com/slipwayhq/slipway/server/session"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/token"
)

// CookieName is the admin session cookie (HttpOnly, SameSite=Strict).
const CookieName = "slipway_admin"

// CSRFField is the form field (or X-CSRF-Token header) every state change needs.
const CSRFField = "csrf"

// maxCookie bounds the session cookie we parse.
const maxCookie = 1024

// session is the signed cookie payload.
type session struct {
	TokenHash []byte `json:"h"` // the admin token's hash: revocation is checked per request
	TokenID   string `json:"i"`
	Tenant    string `json:"t,omitempty"`
	Nonce     []byte `json:"n"` // per session; the CSRF token is derived from it
	Expires   int64  `json:"e"`
	// Single sign-on sessions (no TokenHash): who and the role they were
	// given at sign-in.
	User    string `json:"u,omitempty"`
	Subject string `json:"s,omitempty"`
	Role    string `json:"r,omitempty"`
	csrf    string
	name    string // the admin token's name, read with the token on every request
	role    string // the admin token's role, read with the token on every request
}

type ctxKey struct{}

func sessionFrom(ctx context.Context) (session, bool) {
	s, ok := ctx.Value(ctxKey{}).(session)
	return s, ok
}

// sessionKeys are the cookie MAC keys, derived from the server's session
// signing keys, which every replica reads from the shared database. A
// cookie names the key that signed it, so it keeps working after a key
// rotation until that key is dropped; a cookie without a name (made before
// rotation existed) is checked with the oldest key, as it was signed.
type sessionKeys struct {
	st store.SigningKeyStore
	mu sync.Mutex
	is *jwtsession.Issuer
}

func (k *sessionKeys) issuer(ctx context.Context, now time.Time) (*jwtsession.Issuer, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.is != nil {
		return k.is, nil
	}
	is, err := jwtsession.Open(ctx, k.st, now)
	if err != nil {
		return nil, fmt.Errorf("admin session key (has the server started?): %w", err)
	}
	k.is = is
	return is, nil
}

func mac(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

var b64 = base64.RawURLEncoding

// encodeSession signs s as payload.mac.kid with the current key.
func (u *UI) encodeSession(ctx context.Context, s session) (string, error) {
	return u.sign(ctx, "cookie", s)
}

var errNoSession = errors.New("no valid admin session")

// decodeSession verifies the cookie's MAC and expiry and that the admin
// token is still active (a single sign-on session carries its role).
func (u *UI) decodeSession(r *http.Request) (session, error) {
	var s session
	c, err := r.Cookie(CookieName)
	if err != nil {
		return s, errNoSession
	}
	key, err := u.verify(r.Context(), "cookie", c.Value, &s)
	if err != nil || len(s.Nonce) != 16 {
		return session{}, cmp.Or(err, errNoSession)
	}
	if u.opts.Now().Unix() >= s.Expires {
		return s, errNoSession
	}
	if len(s.TokenHash) == 0 { // single sign-on
		if u.sso == nil || s.User == "" || !slices.Contains(store.Roles, s.Role) {
			return s, errNoSession
		}
		s.name, s.role, s.TokenID = s.User, s.Role, ssoActor(s.Subject)
	} else {
		t, err := u.st.GetAdminToken(r.Context(), s.TokenHash)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (!t.Active(u.opts.Now()) || !token.Equal(t.Hash, s.TokenHash))) {
			return s, errNoSession
		}
		if err != nil {
			return s, err
		}
		s.name, s.role = t.Name, t.Role
	}
	// Signed out (on any replica) before it expired: refused, even if a
	// copy of the cookie survives somewhere.
	if revoked, err := u.st.AdminSessionRevoked(r.Context(), s.id()); err != nil || revoked {
		if err == nil {
			err = errNoSession
		}
		return s, err
	}
	// Single sign-on: is the user still allowed in, says the provider?
	if len(s.TokenHash) == 0 {
		if err := u.recheck(r.Context(), s); err != nil {
			return s, err
		}
	}
	s.csrf = b64.EncodeToString(mac(key, []byte("csrf"), s.Nonce))
	return s, nil
}

func (u *UI) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := u.decodeSession(r)
		if errors.Is(err, errNoSession) {
			if r.Method == http.MethodGet && r.Header.Get("Accept") != "text/event-stream" {
				http.Redirect(w, r, "/admin/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "admin session required", http.StatusUnauthorized)
			return
		}
		if err != nil {
			u.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, s)))
	})
}

// requireCSRF checks the session's CSRF token (form field or header) in
// constant time, and the Origin header when the browser sends one.
func (u *UI) requireCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionFrom(r.Context())
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		got := r.Header.Get("X-CSRF-Token")
		if got == "" {
			got = r.PostFormValue(CSRFField)
		}
		if got == "" || !hmac.Equal([]byte(got), []byte(s.csrf)) || !sameOrigin(r) {
			http.Error(w, "missing or invalid CSRF token", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return o == "" // no Origin: older clients; "null": never
	}
	ou, err := url.Parse(o)
	return err == nil && ou.Host == r.Host
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	u.render(w, r, "login", http.StatusOK, page{Title: "Sign in", Data: u.loginData(safeNext(r.URL.Query().Get("next")))})
}

// loginData: where to go after signing in, the single sign-on link (""
// without it) and whether the token form is offered.
type loginData struct {
	Next, SSO string
	Token     bool
}

func (u *UI) loginData(next string) loginData {
	d := loginData{Next: next, Token: !u.opts.NoTokenLogin}
	if u.sso != nil {
		d.SSO = ssoURL(next)
	}
	return d
}

// safeNext keeps post-login redirects on this page (no open redirect).
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/admin/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/admin/"
	}
	return next
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	value := strings.TrimSpace(r.PostFormValue("token"))
	next := safeNext(r.PostFormValue("next"))
	bad := func() {
		u.render(w, r, "login", http.StatusUnauthorized, page{Title: "Sign in", Error: "That admin token is not valid.",
			Data: u.loginData(next)})
	}
	if u.opts.NoTokenLogin {
		err := &httpError{http.StatusForbidden, "signing in with an admin token is turned off here; use single sign-on"}
		u.audit(r.Context(), session{TokenID: "token-login"}, auditEvent{action: store.AuditDenied, target: "POST /admin/login", err: err})
		u.fail(w, r, err)
		return
	}
	if !sameOrigin(r) || value == "" || len(value) > token.MaxLen || !strings.HasPrefix(value, token.Admin) {
		bad()
		return
	}
	h := token.Hash(value)
	t, err := u.st.GetAdminToken(r.Context(), h)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (!t.RevokedAt.IsZero() || !token.Equal(t.Hash, h))) {
		u.opts.Logger.WarnContext(r.Context(), "admin login refused", "remote", r.RemoteAddr)
		bad()
		return
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	s := session{TokenHash: h, TokenID: t.ID, Tenant: t.TenantID, Nonce: randomBytes(16),
		Expires: u.opts.Now().Add(u.opts.SessionTTL).Unix(), name: t.Name}
	v, err := u.encodeSession(r.Context(), s)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.setSessionCookie(w, v)
	u.audit(r.Context(), s, auditEvent{action: store.AuditLogin, tenant: s.Tenant})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (u *UI) setSessionCookie(w http.ResponseWriter, v string) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: v, Path: "/admin", HttpOnly: true, Secure: u.opts.Secure,
		SameSite: http.SameSiteStrictMode, MaxAge: int(u.opts.SessionTTL / time.Second)})
}

// logout ends the session: the cookie is cleared and the session is
// recorded as signed out until it would have expired, so a copy of the
// cookie stops working too.
func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	s, _ := sessionFrom(r.Context())
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/admin", HttpOnly: true, Secure: u.opts.Secure,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	err := u.st.RevokeAdminSession(r.Context(), s.id(), time.Unix(s.Expires, 0))
	if err == nil && len(s.TokenHash) == 0 {
		err = u.st.DeleteSSOSession(r.Context(), s.id()) // the provider's grant is no longer needed
	}
	u.audit(r.Context(), s, auditEvent{action: store.AuditLogout, tenant: s.Tenant, err: err})
	if err != nil {
		u.fail(w, r, fmt.Errorf("sign-out could not be recorded (the session stays valid until it expires): %w", err))
		return
	}
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}

// id is the session's ID in the store: a hash of its nonce.
func (s session) id() []byte {
	h := sha256.Sum256(s.Nonce)
	return h[:]
}

// requireRole refuses sessions whose admin token's role is below min with
// a 403 page and an audit entry; the admin API enforces the same roles.
func (u *UI) requireRole(min string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, _ := sessionFrom(r.Context())
			if store.RoleRank(s.role) >= store.RoleRank(min) {
				next.ServeHTTP(w, r)
				return
			}
			role := cmp.Or(s.role, store.RoleAdmin)
			err := &httpError{http.StatusForbidden, "your role (" + role + ") may not do this; it needs " + min}
			u.audit(r.Context(), s, auditEvent{action: store.AuditDenied, tenant: s.Tenant, target: r.Method + " " + r.URL.Path, err: err,
				attrs: []any{"role", role}})
			u.fail(w, r, err)
		})
	}
}
