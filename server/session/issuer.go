package session

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// DefaultRefresh is how often an Issuer rereads the keys from the store,
// so a rotation made through any replica is signed with everywhere.
const DefaultRefresh = 30 * time.Second

// missInterval bounds the store reads caused by tokens with an unknown
// kid (a key added on another replica, or garbage): one per interval.
const missInterval = time.Second

// Issuer signs with the current key and verifies with any live key. It
// rereads the keys from the store every Refresh, and at most once a second
// when it meets an unknown kid; known kids never cost a store read.
type Issuer struct {
	ks      KeyStore
	issuer  string
	refresh time.Duration

	mu     sync.Mutex // serialises reloads
	ring   atomic.Pointer[ring]
	missAt atomic.Int64 // unix nanoseconds of the last unknown-kid reload
}

// ring is one generation of keys.
type ring struct {
	sign    key
	verify  map[string]liveKey
	jwks    []byte
	loaded  time.Time
	current string
	oldest  key
}

type liveKey struct {
	key
	expires time.Time // zero: until retired
}

// Rotate adds a new signing key and signs with it from now on. The keys it
// replaces stay in the JWKS, and keep verifying, until dropAfter (after
// the last token they signed has expired); keys past their own expiry are
// deleted. Other replicas sign with the new key from their next reread.
func (is *Issuer) Rotate(ctx context.Context, now, dropAfter time.Time) (store.SigningKey, error) {
	if !dropAfter.After(now) {
		return store.SigningKey{}, fmt.Errorf("session: rotate: the old keys must be kept past now")
	}
	k := NewKey(now)
	if err := is.ks.RotateSigningKey(ctx, k, dropAfter); err != nil {
		return store.SigningKey{}, fmt.Errorf("session: rotate: %w", err)
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	if r := is.reload(ctx, now); r.current != k.ID {
		return k, fmt.Errorf("session: rotate: key %s stored but not read back", k.ID)
	}
	k.Seed = nil
	return k, nil
}

// Keys lists the stored keys (seeds cleared), newest first.
func (is *Issuer) Keys(ctx context.Context) ([]store.SigningKey, error) {
	keys, err := is.ks.SigningKeys(ctx)
	for i := range keys {
		keys[i].Seed = nil
	}
	return keys, err
}

// Load reads the signing keys from ks, creating one when there is none
// (the caller runs it under the replicas' lock on first start).
func Load(ctx context.Context, ks KeyStore, issuer string, now time.Time) (*Issuer, error) {
	stored, err := ks.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("session: load keys: %w", err)
	}
	if len(live(stored, now)) == 0 {
		k := NewKey(now)
		if err := ks.CreateSigningKey(ctx, k); err != nil {
			return nil, fmt.Errorf("session: create key: %w", err)
		}
		stored = append([]store.SigningKey{k}, stored...)
	}
	is := &Issuer{ks: ks, issuer: issuer, refresh: DefaultRefresh}
	r, err := newRing(stored, now)
	if err != nil {
		return nil, err
	}
	is.ring.Store(r)
	return is, nil
}

// Open reads the signing keys from ks like Load, but never creates one: it
// is for readers of keys the server made (the admin page's cookies).
func Open(ctx context.Context, ks KeyStore, now time.Time) (*Issuer, error) {
	stored, err := ks.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("session: load keys: %w", err)
	}
	r, err := newRing(stored, now)
	if err != nil {
		return nil, err
	}
	is := &Issuer{ks: ks, refresh: DefaultRefresh}
	is.ring.Store(r)
	return is, nil
}

// SetRefresh changes how often the keys are reread (d > 0).
func (is *Issuer) SetRefresh(d time.Duration) {
	if d > 0 {
		is.refresh = d
	}
}

// live returns the keys not yet dropped at now, newest first.
func live(keys []store.SigningKey, now time.Time) []store.SigningKey {
	var out []store.SigningKey
	for _, k := range keys {
		if k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt) {
			out = append(out, k)
		}
	}
	return out
}

// newRing builds the keys live at now: the newest unretired key signs.
func newRing(stored []store.SigningKey, now time.Time) (*ring, error) {
	keep := live(stored, now)
	if len(keep) == 0 {
		return nil, fmt.Errorf("session: no live signing key")
	}
	r := &ring{verify: map[string]liveKey{}, loaded: now}
	var keys []key
	signAt := 0
	for i := len(keep) - 1; i >= 0; i-- { // oldest first, so the newest unretired wins
		if keep[i].RetiredAt.IsZero() {
			signAt = i
		}
	}
	for i, sk := range keep {
		k, err := newKey(sk)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
		r.verify[k.id] = liveKey{key: k, expires: sk.ExpiresAt}
		if i == signAt {
			r.sign, r.current = k, k.id
		}
		r.oldest = k
	}
	var err error
	r.jwks, err = jwksOf(keys)
	return r, err
}

// current returns the keys, rereading them when they are older than the
// refresh interval. A failed reread keeps the keys it has.
func (is *Issuer) current(ctx context.Context, now time.Time) *ring {
	r := is.ring.Load()
	if age := now.Sub(r.loaded); age < is.refresh && age >= 0 {
		return r
	}
	if !is.mu.TryLock() { // another request is rereading: use what we have
		return r
	}
	defer is.mu.Unlock()
	return is.reload(ctx, now)
}

// reload rereads the keys; is.mu is held.
func (is *Issuer) reload(ctx context.Context, now time.Time) *ring {
	old := is.ring.Load()
	stored, err := is.ks.SigningKeys(ctx)
	if err != nil {
		return old
	}
	r, err := newRing(stored, now)
	if err != nil {
		return old
	}
	is.ring.Store(r)
	return r
}

// lookup finds kid among the live keys; an unknown kid rereads the keys,
// at most once per missInterval.
func (is *Issuer) lookup(ctx context.Context, kid string, now time.Time) (liveKey, bool) {
	r := is.current(ctx, now)
	if k, ok := r.verify[kid]; ok {
		return k, true
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	if r2 := is.ring.Load(); r2 != r { // someone else reread meanwhile
		k, ok := r2.verify[kid]
		return k, ok
	}
	last := time.Unix(0, is.missAt.Load())
	if d := now.Sub(last); d >= 0 && d < missInterval {
		return liveKey{}, false
	}
	is.missAt.Store(now.UnixNano())
	k, ok := is.reload(ctx, now).verify[kid]
	return k, ok
}

// JWKS returns the JSON Web Key Set document of the live keys.
func (is *Issuer) JWKS(ctx context.Context, now time.Time) []byte { return is.current(ctx, now).jwks }

// KeyID returns the kid new sessions are signed with.
func (is *Issuer) KeyID(ctx context.Context, now time.Time) string {
	return is.current(ctx, now).current
}

// Issuer returns the "iss" value of issued tokens.
func (is *Issuer) Issuer() string { return is.issuer }

// Issue signs a session for the machine, valid for ttl from now, with the
// current key.
func (is *Issuer) Issue(ctx context.Context, machineID, tenantID string, now time.Time, ttl time.Duration) (string, Claims, error) {
	c := newClaims(is.issuer, machineID, tenantID, now, ttl)
	tok, err := sign(is.current(ctx, now).sign, c)
	return tok, c, err
}

// Verify checks the algorithm, kid, signature, issuer, scope and time window.
func (is *Issuer) Verify(ctx context.Context, tok string, now time.Time) (Claims, error) {
	t, kid, err := parse(tok)
	if err != nil {
		return Claims{}, err
	}
	k, ok := is.lookup(ctx, kid, now)
	if !ok || (!k.expires.IsZero() && !now.Before(k.expires)) {
		return Claims{}, ErrSignature
	}
	return check(t, k.pub, is.issuer, now)
}

// CookieKey returns the current key's kid and the MAC key derived from it
// for the admin page's cookies.
func (is *Issuer) CookieKey(ctx context.Context, now time.Time) (string, []byte) {
	r := is.current(ctx, now)
	return r.sign.id, r.sign.mac
}

// CookieKeyFor returns the cookie MAC key of key kid while it is live;
// kid "" is the oldest live key (cookies made before rotation existed).
func (is *Issuer) CookieKeyFor(ctx context.Context, kid string, now time.Time) ([]byte, bool) {
	if kid == "" {
		return is.current(ctx, now).oldest.mac, true
	}
	k, ok := is.lookup(ctx, kid, now)
	if !ok || (!k.expires.IsZero() && !now.Before(k.expires)) {
		return nil, false
	}
	return k.mac, true
}
