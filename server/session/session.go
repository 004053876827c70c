// Package session issues and verifies machine sessions: compact JWTs signed
// with Ed25519 (alg EdDSA), whose public keys are published as a JWKS so any
// app (the ticket portal) can verify them.
package session

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// Scope is the restricted scope every machine session carries.
const Scope = "machine:session"

// Errors from Verify; match with errors.Is.
var (
	ErrMalformed = errors.New("session: malformed token")
	ErrSignature = errors.New("session: bad signature")
	ErrExpired   = errors.New("session: expired")
)

// Claims are the JWT claims of a machine session.
type Claims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"` // "machine:<id>"
	Audience  string `json:"aud,omitempty"`
	Tenant    string `json:"tenant"`
	Scope     string `json:"scope"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	ExpiresAt int64  `json:"exp"`
	ID        string `json:"jti"`
}

// MachineID returns the machine ID from the subject, or "".
func (c Claims) MachineID() string {
	id, ok := strings.CutPrefix(c.Subject, "machine:")
	if !ok {
		return ""
	}
	return id
}

type key struct {
	id   string
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
}

// Issuer signs with the newest key and verifies with any known key.
type Issuer struct {
	keys   []key // newest first
	jwks   []byte
	issuer string
}

// KeyStore is the part of store.SigningKeyStore that Load needs.
type KeyStore interface {
	CreateSigningKey(ctx context.Context, k store.SigningKey) error
	SigningKeys(ctx context.Context) ([]store.SigningKey, error)
}

// Load reads the signing keys from ks, creating one when there is none.
func Load(ctx context.Context, ks KeyStore, issuer string, now time.Time) (*Issuer, error) {
	stored, err := ks.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("session: load keys: %w", err)
	}
	if len(stored) == 0 {
		seed := make([]byte, ed25519.SeedSize)
		_, _ = rand.Read(seed)
		kid := make([]byte, 8)
		_, _ = rand.Read(kid)
		k := store.SigningKey{ID: hex.EncodeToString(kid), Seed: seed, CreatedAt: now}
		if err := ks.CreateSigningKey(ctx, k); err != nil {
			return nil, fmt.Errorf("session: create key: %w", err)
		}
		stored = []store.SigningKey{k}
	}
	is := &Issuer{issuer: issuer}
	for _, sk := range stored {
		if len(sk.Seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("session: key %s: bad seed length %d", sk.ID, len(sk.Seed))
		}
		priv := ed25519.NewKeyFromSeed(sk.Seed)
		is.keys = append(is.keys, key{id: sk.ID, priv: priv, pub: priv.Public().(ed25519.PublicKey)})
	}
	is.jwks, err = is.buildJWKS()
	return is, err
}

type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

func (is *Issuer) buildJWKS() ([]byte, error) {
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for _, k := range is.keys {
		set.Keys = append(set.Keys, jwk{Kty: "OKP", Crv: "Ed25519", X: b64(k.pub), Kid: k.id, Alg: "EdDSA", Use: "sig"})
	}
	return json.Marshal(set)
}

// JWKS returns the JSON Web Key Set document.
func (is *Issuer) JWKS() []byte { return is.jwks }

// Issuer returns the "iss" value of issued tokens.
func (is *Issuer) Issuer() string { return is.issuer }

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

type header struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
	Kid string `json:"kid"`
}

// Issue signs a session for the machine, valid for ttl from now.
func (is *Issuer) Issue(machineID, tenantID string, now time.Time, ttl time.Duration) (string, Claims, error) {
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	c := Claims{
		Issuer: is.issuer, Subject: "machine:" + machineID, Tenant: tenantID, Scope: Scope,
		IssuedAt: now.Unix(), NotBefore: now.Unix(), ExpiresAt: now.Add(ttl).Unix(), ID: hex.EncodeToString(jti),
	}
	k := is.keys[0]
	h, err := json.Marshal(header{Alg: "EdDSA", Typ: "JWT", Kid: k.id})
	if err != nil {
		return "", c, err
	}
	p, err := json.Marshal(c)
	if err != nil {
		return "", c, err
	}
	signing := b64(h) + "." + b64(p)
	return signing + "." + b64(ed25519.Sign(k.priv, []byte(signing))), c, nil
}

// MaxLen bounds accepted tokens.
const MaxLen = 4096

// Verify checks the signature, algorithm, issuer, scope and time window.
func (is *Issuer) Verify(tok string, now time.Time) (Claims, error) {
	var c Claims
	if len(tok) > MaxLen {
		return c, ErrMalformed
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return c, ErrMalformed
	}
	var h header
	if err := decodePart(parts[0], &h); err != nil || h.Alg != "EdDSA" {
		return c, ErrMalformed
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return c, ErrMalformed
	}
	ok := false
	for _, k := range is.keys {
		if k.id == h.Kid && ed25519.Verify(k.pub, []byte(parts[0]+"."+parts[1]), sig) {
			ok = true
			break
		}
	}
	if !ok {
		return c, ErrSignature
	}
	if err := decodePart(parts[1], &c); err != nil {
		return Claims{}, ErrMalformed
	}
	if c.Issuer != is.issuer || c.Scope != Scope || c.MachineID() == "" {
		return Claims{}, ErrMalformed
	}
	if n := now.Unix(); n >= c.ExpiresAt || n < c.NotBefore-60 {
		return Claims{}, ErrExpired
	}
	return c, nil
}

func decodePart(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	return dec.Decode(v)
}
