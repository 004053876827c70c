// Package session issues and verifies machine sessions: compact JWTs signed
// with Ed25519 (alg EdDSA, a "kid" header), whose public keys are published
// as a JWKS so any app (the ticket portal) can verify them. Signing,
// parsing and the key set are go-jose's (github.com/go-jose/go-jose/v4).
package session

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

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

// Skew is how far in the future a token's nbf may be.
const Skew = 60 * time.Second

// MaxLen bounds accepted tokens.
const MaxLen = 4096

// algs is the one algorithm accepted: a token with any other "alg"
// (none, HS256 with the public key as secret, ...) fails to parse.
var algs = []jose.SignatureAlgorithm{jose.EdDSA}

// key is one signing key, with its go-jose signer.
type key struct {
	id     string
	pub    ed25519.PublicKey
	signer jose.Signer
	mac    []byte // the admin page's cookie MAC key, derived from the seed
}

// KeyStore is the part of store.SigningKeyStore that Load needs.
type KeyStore interface {
	CreateSigningKey(ctx context.Context, k store.SigningKey) error
	SigningKeys(ctx context.Context) ([]store.SigningKey, error)
	RotateSigningKey(ctx context.Context, k store.SigningKey, dropAfter time.Time) error
}

// NewKey returns a fresh signing key: a random seed and an 8-byte hex kid.
func NewKey(now time.Time) store.SigningKey {
	seed := make([]byte, ed25519.SeedSize)
	_, _ = rand.Read(seed)
	kid := make([]byte, 8)
	_, _ = rand.Read(kid)
	return store.SigningKey{ID: hex.EncodeToString(kid), Seed: seed, CreatedAt: now}
}

func newKey(sk store.SigningKey) (key, error) {
	if len(sk.Seed) != ed25519.SeedSize {
		return key{}, fmt.Errorf("session: key %s: bad seed length %d", sk.ID, len(sk.Seed))
	}
	priv := ed25519.NewKeyFromSeed(sk.Seed)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: priv, KeyID: sk.ID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return key{}, fmt.Errorf("session: key %s: %w", sk.ID, err)
	}
	m := hmac.New(sha256.New, sk.Seed)
	m.Write([]byte("slipway admin session v1"))
	return key{id: sk.ID, pub: priv.Public().(ed25519.PublicKey), signer: signer, mac: m.Sum(nil)}, nil
}

// jwksOf is the JSON Web Key Set of keys: OKP/Ed25519, alg EdDSA, use sig.
func jwksOf(keys []key) ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.pub, KeyID: k.id, Algorithm: string(jose.EdDSA), Use: "sig"})
	}
	return json.Marshal(set)
}

func newClaims(issuer, machineID, tenantID string, now time.Time, ttl time.Duration) Claims {
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	return Claims{
		Issuer: issuer, Subject: "machine:" + machineID, Tenant: tenantID, Scope: Scope,
		IssuedAt: now.Unix(), NotBefore: now.Unix(), ExpiresAt: now.Add(ttl).Unix(), ID: hex.EncodeToString(jti),
	}
}

func sign(k key, c Claims) (string, error) {
	tok, err := jwt.Signed(k.signer).Claims(c).Serialize()
	if err != nil {
		return "", fmt.Errorf("session: sign: %w", err)
	}
	return tok, nil
}

// parse parses tok (EdDSA only) and returns it with its kid.
func parse(tok string) (*jwt.JSONWebToken, string, error) {
	if len(tok) > MaxLen {
		return nil, "", ErrMalformed
	}
	t, err := jwt.ParseSigned(tok, algs)
	if err != nil || len(t.Headers) != 1 {
		return nil, "", ErrMalformed
	}
	return t, t.Headers[0].KeyID, nil
}

// check verifies t's signature with pub and its claims at now.
func check(t *jwt.JSONWebToken, pub ed25519.PublicKey, issuer string, now time.Time) (Claims, error) {
	var c Claims
	if err := t.Claims(pub, &c); err != nil {
		if errors.Is(err, jose.ErrCryptoFailure) {
			return Claims{}, ErrSignature
		}
		return Claims{}, ErrMalformed
	}
	if c.Issuer != issuer || c.Scope != Scope || c.MachineID() == "" {
		return Claims{}, ErrMalformed
	}
	if n := now.Unix(); n >= c.ExpiresAt || n < c.NotBefore-int64(Skew/time.Second) {
		return Claims{}, ErrExpired
	}
	return c, nil
}
