package adminui

import (
	"cmp"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"golang.org/x/oauth2"

	"github.com/slipwayhq/slipway/server/store"
)

// A single sign-on session is rechecked with the identity provider every
// OIDC.Recheck: the server keeps the provider's grant (its refresh token,
// or its access token when it gave none) sealed in the store, renews it
// and reads userinfo. A user the provider removed or disabled (the refresh
// is refused), or who is no longer allowed in or has another role now, is
// signed out on the next request after the check falls due, on every
// replica; the audit log says why.

// Recheck bounds (SLIPWAY_OIDC_RECHECK).
const (
	DefaultRecheck = 5 * time.Minute
	MinRecheck     = 30 * time.Second
	MaxRecheck     = time.Hour
)

// grant is what the provider gave at sign-in: a refresh token, or only an
// access token (then the session ends when the provider stops accepting it).
type grant struct {
	refresh bool
	token   string
}

// ssoRefused: the provider answered, and said no. Any other error means
// it could not be asked.
type ssoRefused struct{ why string }

func (e *ssoRefused) Error() string { return e.why }

// grantAEAD is AES-256-GCM under a key derived from a session signing
// key's cookie key: grants are sealed as the keys themselves are
// (SLIPWAY_SECRET_KEY_FILE), and a grant outlives no key it was sealed with
// (retired keys are kept past the longest session).
func grantAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(mac(key, []byte("sso-grant")))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealGrant: len(kid) | kid | nonce | AES-GCM(kind | token), bound to the session ID.
func (u *UI) sealGrant(ctx context.Context, id []byte, g grant) ([]byte, error) {
	is, err := u.keys.issuer(ctx, u.opts.Now())
	if err != nil {
		return nil, err
	}
	kid, key := is.CookieKey(ctx, u.opts.Now())
	aead, err := grantAEAD(key)
	if err != nil || len(kid) > 255 {
		return nil, fmt.Errorf("adminui: seal sso grant: %v", err)
	}
	out := append([]byte{byte(len(kid))}, kid...)
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	kind := byte('a')
	if g.refresh {
		kind = 'r'
	}
	out = append(out, nonce...)
	return aead.Seal(out, nonce, append([]byte{kind}, g.token...), id), nil
}

func (u *UI) openGrant(ctx context.Context, id, sealed []byte) (grant, error) {
	bad := errors.New("adminui: sso grant does not open")
	if len(sealed) < 1 || len(sealed) < 1+int(sealed[0]) {
		return grant{}, bad
	}
	kid, rest := string(sealed[1:1+int(sealed[0])]), sealed[1+int(sealed[0]):]
	is, err := u.keys.issuer(ctx, u.opts.Now())
	if err != nil {
		return grant{}, err
	}
	key, ok := is.CookieKeyFor(ctx, kid, u.opts.Now())
	if !ok {
		return grant{}, bad
	}
	aead, err := grantAEAD(key)
	if err != nil || len(rest) < aead.NonceSize() {
		return grant{}, bad
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], id)
	if err != nil || len(plain) < 2 {
		return grant{}, bad
	}
	return grant{refresh: plain[0] == 'r', token: string(plain[1:])}, nil
}

// keepGrant stores a new SSO session's grant, first checked after Recheck.
func (u *UI) keepGrant(ctx context.Context, s session, tok *oauth2.Token) error {
	g := grant{refresh: tok.RefreshToken != "", token: tok.RefreshToken}
	if !g.refresh {
		g.token = tok.AccessToken
	}
	sealed, err := u.sealGrant(ctx, s.id(), g)
	if err != nil {
		return err
	}
	now := u.opts.Now()
	return u.st.PutSSOSession(ctx, store.SSOSession{ID: s.id(), Grant: sealed, CheckAt: now.Add(u.sso.cfg.Recheck),
		ExpiresAt: time.Unix(s.Expires, 0)}, now)
}

// recheck asks the provider about s when its check is due. errNoSession:
// the session was ended (and audited); an *httpError: the provider could
// not be asked, so this request is refused but the session stays.
func (u *UI) recheck(ctx context.Context, s session) error {
	id := s.id()
	row, err := u.st.GetSSOSession(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return errNoSession // ended on another replica, or made before rechecks existed
	}
	if err != nil {
		return err
	}
	now := u.opts.Now()
	if now.Before(row.CheckAt) {
		return nil
	}
	next := now.Add(u.sso.cfg.Recheck)
	if won, err := u.st.ClaimSSOCheck(ctx, id, row.CheckAt, next); err != nil || !won {
		return err // not won: another request or replica is asking the provider right now
	}
	g, err := u.openGrant(ctx, id, row.Grant)
	if err != nil {
		return u.endSSO(ctx, s, "the stored sign-in grant does not open (the session keys changed)")
	}
	who, renewed, err := u.sso.ask(ctx, g, s.Subject)
	var refused *ssoRefused
	if errors.As(err, &refused) {
		return u.endSSO(ctx, s, refused.why)
	}
	if err != nil {
		u.opts.Logger.WarnContext(ctx, "single sign-on recheck: identity provider not reachable", "err", err, "user", s.User)
		_, _ = u.st.ClaimSSOCheck(context.WithoutCancel(ctx), id, next, now) // due again: the next request asks
		return &httpError{http.StatusServiceUnavailable, "the identity provider could not be asked whether you are still signed in; try again shortly"}
	}
	if err := u.ssoAllowed(who); err != nil {
		return u.endSSO(ctx, s, err.Error())
	}
	if rule, err := u.ssoRole(who); err != nil || rule.Role != s.Role || rule.Tenant != s.Tenant {
		return u.endSSO(ctx, s, "the identity provider now gives "+who.email+" another role; sign in again")
	}
	if renewed != g {
		sealed, err := u.sealGrant(ctx, id, renewed)
		if err == nil {
			err = u.st.SetSSOGrant(ctx, id, sealed)
		}
		if err != nil { // the provider rotated the refresh token: the old one is spent
			return u.endSSO(ctx, s, fmt.Sprintf("the renewed sign-in grant could not be kept: %v", err))
		}
	}
	return nil
}

// endSSO signs s out on every replica and audits why.
func (u *UI) endSSO(ctx context.Context, s session, why string) error {
	ctx = context.WithoutCancel(ctx)
	err := u.st.RevokeAdminSession(ctx, s.id(), time.Unix(s.Expires, 0))
	if err == nil {
		err = u.st.DeleteSSOSession(ctx, s.id())
	}
	u.audit(ctx, s, auditEvent{action: store.AuditLogout, tenant: s.Tenant, target: "single sign-on recheck",
		err: errors.New("session ended: " + why), attrs: []any{"via", "oidc-recheck"}})
	if err != nil {
		return fmt.Errorf("adminui: end sso session: %w", err)
	}
	return errNoSession
}

// statusRefused matches go-oidc's userinfo error text for a 4xx answer
// ("401 Unauthorized: ..."): the provider refused the token.
var statusRefused = regexp.MustCompile(`^4\d\d `)

// ask renews g (when it is a refresh token) and reads userinfo with the
// access token; it returns who the provider says the user is now and the
// grant to keep (refresh tokens may rotate).
func (s *sso) ask(ctx context.Context, g grant, subject string) (ssoUser, grant, error) {
	p, oc, err := s.get()
	if err != nil {
		return ssoUser{}, g, err
	}
	ctx = s.ctx(ctx)
	tok := &oauth2.Token{AccessToken: g.token, TokenType: "Bearer"}
	if g.refresh {
		t, err := oc.TokenSource(ctx, &oauth2.Token{RefreshToken: g.token}).Token()
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 {
			return ssoUser{}, g, &ssoRefused{fmt.Sprintf("the identity provider refused to renew the sign-in (%s)", cmp.Or(re.ErrorCode, re.Response.Status))}
		}
		if err != nil {
			return ssoUser{}, g, err
		}
		tok = t
		if t.RefreshToken != "" {
			g.token = t.RefreshToken
		}
	}
	info, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil && statusRefused.MatchString(err.Error()) {
		return ssoUser{}, g, &ssoRefused{"the identity provider no longer accepts the sign-in (userinfo " + err.Error()[:3] + ")"}
	}
	if err != nil {
		return ssoUser{}, g, err
	}
	if info.Subject != subject {
		return ssoUser{}, g, &ssoRefused{"the identity provider answered for another subject"}
	}
	claims := map[string]any{}
	if err := info.Claims(&claims); err != nil {
		return ssoUser{}, g, &ssoRefused{"the identity provider's userinfo does not parse"}
	}
	who, err := s.user(subject, claims)
	if err != nil {
		return who, g, &ssoRefused{err.Error()}
	}
	return who, g, nil
}
