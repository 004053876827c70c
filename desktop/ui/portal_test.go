package ui_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// testPortal stands in for the ticket web app: it reads the machine session
// cookie set by the server's handshake, verifies the JWT with the keys from
// the server's /.well-known/jwks.json and shows the machine identity.
// (Cookies are scoped by host, not port, so the cookie set by the server on
// 127.0.0.1 reaches this portal on another 127.0.0.1 port, as it would on a
// shared parent domain in production.)
type testPortal struct {
	*httptest.Server
	mu     sync.Mutex
	server string   // Slipway server URL (issuer and JWKS)
	seen   []string // request URLs and referers
}

var portalPage = template.Must(template.New("p").Parse(`<!doctype html><title>Support portal</title>
<h1>Support portal</h1><p>Signed in as machine <b id="portal-machine">{{.Sub}}</b> of tenant <b id="portal-tenant">{{.Tenant}}</b>.</p>`))

func newTestPortal(t *testing.T) *testPortal {
	p := &testPortal{}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.Close)
	return p
}

func (p *testPortal) setServer(u string) {
	p.mu.Lock()
	p.server = u
	p.mu.Unlock()
}

func (p *testPortal) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

func (p *testPortal) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.seen = append(p.seen, r.URL.String()+" referer="+r.Referer())
	server := p.server
	p.mu.Unlock()
	c, err := r.Cookie("slipway_session")
	if err != nil {
		http.Error(w, "no session cookie", http.StatusUnauthorized)
		return
	}
	claims, err := verify(r, server, c.Value)
	if err != nil {
		http.Error(w, "bad session: "+err.Error(), http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = portalPage.Execute(w, map[string]string{"Sub": fmt.Sprint(claims["sub"]), "Tenant": fmt.Sprint(claims["tenant"])})
}

func verify(r *http.Request, server, tok string) (jwt.MapClaims, error) {
	keys, err := jwks(r, server)
	if err != nil {
		return nil, err
	}
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(tok, claims, func(tk *jwt.Token) (any, error) {
		kid, _ := tk.Header["kid"].(string)
		if k, ok := keys[kid]; ok {
			return k, nil
		}
		return nil, errors.New("unknown kid")
	}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithIssuer(server), jwt.WithExpirationRequired())
	if err != nil {
		return nil, err
	}
	if sub, _ := claims["sub"].(string); !strings.HasPrefix(sub, "machine:") {
		return nil, fmt.Errorf("subject %q is not a machine", sub)
	}
	return claims, nil
}

func jwks(r *http.Request, server string) (map[string]ed25519.PublicKey, error) {
	req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, server+"/.well-known/jwks.json", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct{ Kty, Crv, X, Kid string } `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&set); err != nil {
		return nil, err
	}
	out := map[string]ed25519.PublicKey{}
	for _, k := range set.Keys {
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if k.Kty == "OKP" && k.Crv == "Ed25519" && err == nil && len(x) == ed25519.PublicKeySize {
			out[k.Kid] = ed25519.PublicKey(x)
		}
	}
	return out, nil
}
