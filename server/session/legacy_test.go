package session

// The hand-written JWS code this package used before go-jose (commit
// 70ef75e, server/session/session.go), kept only as a test oracle: the
// go-jose tokens and key set must be what it produced and accepted, and
// BenchmarkVerify runs both side by side.

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

func legacyB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

type legacyJWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

func legacyJWKS(kid string, pub ed25519.PublicKey) []byte {
	set := struct {
		Keys []legacyJWK `json:"keys"`
	}{Keys: []legacyJWK{{Kty: "OKP", Crv: "Ed25519", X: legacyB64(pub), Kid: kid, Alg: "EdDSA", Use: "sig"}}}
	b, _ := json.Marshal(set)
	return b
}

type legacyHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
	Kid string `json:"kid"`
}

func legacyIssue(kid string, priv ed25519.PrivateKey, c Claims) string {
	h, _ := json.Marshal(legacyHeader{Alg: "EdDSA", Typ: "JWT", Kid: kid})
	p, _ := json.Marshal(c)
	signing := legacyB64(h) + "." + legacyB64(p)
	return signing + "." + legacyB64(ed25519.Sign(priv, []byte(signing)))
}

func legacyVerify(kid string, pub ed25519.PublicKey, issuer, tok string, now time.Time) (Claims, error) {
	var c Claims
	if len(tok) > MaxLen {
		return c, ErrMalformed
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return c, ErrMalformed
	}
	var h legacyHeader
	if err := legacyDecode(parts[0], &h); err != nil || h.Alg != "EdDSA" {
		return c, ErrMalformed
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return c, ErrMalformed
	}
	if h.Kid != kid || !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
		return c, ErrSignature
	}
	if err := legacyDecode(parts[1], &c); err != nil {
		return Claims{}, ErrMalformed
	}
	if c.Issuer != issuer || c.Scope != Scope || c.MachineID() == "" {
		return Claims{}, ErrMalformed
	}
	if n := now.Unix(); n >= c.ExpiresAt || n < c.NotBefore-60 {
		return Claims{}, ErrExpired
	}
	return c, nil
}

func legacyDecode(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	return json.NewDecoder(bytes.NewReader(b)).Decode(v)
}
