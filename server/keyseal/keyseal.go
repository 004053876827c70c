// Package keyseal encrypts the server's session signing keys at rest.
//
// The session signing keys (ed25519 seeds) live in the database so every
// replica signs and verifies with the same keys. Stored as they are, a copy
// of the database would let anyone mint machine sessions and admin cookies.
// Keys wraps a store.SigningKeyStore so seeds are sealed with AES-256-GCM
// under a key-encryption key (KEK) that lives outside the database, in a
// file every replica is given (SLIPWAY_SECRET_KEY_FILE).
package keyseal

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// KeySize is the size of a KEK: 32 random bytes (AES-256).
const KeySize = 32

// version 1 sealed seed: 0x01 | 12-byte nonce | AES-GCM(seed) with the key ID as additional data.
const (
	v1        = 0x01
	nonceSize = 12
	sealedLen = 1 + nonceSize + ed25519.SeedSize + 16
)

// ErrWrongKey: a sealed seed does not open with this KEK (another file, or
// the database belongs to another installation).
var ErrWrongKey = errors.New("keyseal: session signing key does not decrypt with this secret key file")

// Keys seals seeds on CreateSigningKey and opens them on SigningKeys.
// Seeds stored before sealing was enabled (plain 32 bytes) are returned as
// they are, until SealStored seals them.
type Keys struct {
	st   store.SigningKeyStore
	aead cipher.AEAD
}

var _ store.SigningKeyStore = (*Keys)(nil)

// New wraps st with the KEK kek (KeySize bytes).
func New(st store.SigningKeyStore, kek []byte) (*Keys, error) {
	if len(kek) != KeySize {
		return nil, fmt.Errorf("keyseal: secret key must be %d bytes, not %d", KeySize, len(kek))
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("keyseal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keyseal: %w", err)
	}
	return &Keys{st: st, aead: aead}, nil
}

// CreateSigningKey stores k with its seed sealed.
func (k *Keys) CreateSigningKey(ctx context.Context, sk store.SigningKey) error {
	if len(sk.Seed) != ed25519.SeedSize {
		return fmt.Errorf("keyseal: seed must be %d bytes", ed25519.SeedSize)
	}
	sealed, err := k.seal(sk.ID, sk.Seed)
	if err != nil {
		return err
	}
	sk.Seed = sealed
	return k.st.CreateSigningKey(ctx, sk)
}

// SigningKeys returns the keys with their seeds opened, newest first.
func (k *Keys) SigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	keys, err := k.st.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	for i, sk := range keys {
		if keys[i].Seed, err = k.open(sk); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// open returns sk's seed: as stored when it predates sealing, else opened.
func (k *Keys) open(sk store.SigningKey) ([]byte, error) {
	switch {
	case len(sk.Seed) == ed25519.SeedSize: // stored before sealing was enabled
		return sk.Seed, nil
	case len(sk.Seed) == sealedLen && sk.Seed[0] == v1:
		seed, err := k.aead.Open(nil, sk.Seed[1:1+nonceSize], sk.Seed[1+nonceSize:], []byte(sk.ID))
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", sk.ID, ErrWrongKey)
		}
		return seed, nil
	}
	return nil, fmt.Errorf("keyseal: key %s: stored seed has an unknown format (%d bytes)", sk.ID, len(sk.Seed))
}

// RotateSigningKey stores k, with its seed sealed, as the signing key.
func (k *Keys) RotateSigningKey(ctx context.Context, sk store.SigningKey, dropAfter time.Time) error {
	sealed, err := k.seal(sk.ID, sk.Seed)
	if err != nil {
		return err
	}
	sk.Seed = sealed
	return k.st.RotateSigningKey(ctx, sk, dropAfter)
}

// ReplaceSigningKeySeed passes through to the wrapped store (stored values).
func (k *Keys) ReplaceSigningKeySeed(ctx context.Context, id string, old, seed []byte) error {
	return k.st.ReplaceSigningKeySeed(ctx, id, old, seed)
}

// SealStored seals the seeds stored before sealing was enabled, in place,
// and returns how many it sealed; a sealed seed that does not open with
// this KEK is an error (ErrWrongKey). A seed another replica sealed
// meanwhile is left to it (the store's compare-and-swap refuses the second
// write).
func (k *Keys) SealStored(ctx context.Context) (int, error) {
	keys, err := k.st.SigningKeys(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, sk := range keys {
		if len(sk.Seed) != ed25519.SeedSize {
			if _, err := k.open(sk); err != nil {
				return n, err
			}
			continue
		}
		sealed, err := k.seal(sk.ID, sk.Seed)
		if err != nil {
			return n, err
		}
		switch err := k.st.ReplaceSigningKeySeed(ctx, sk.ID, sk.Seed, sealed); {
		case errors.Is(err, store.ErrConflict):
		case err != nil:
			return n, fmt.Errorf("keyseal: seal key %s: %w", sk.ID, err)
		default:
			n++
		}
	}
	return n, nil
}

func (k *Keys) seal(id string, seed []byte) ([]byte, error) {
	out := make([]byte, 1+nonceSize, sealedLen)
	out[0] = v1
	if _, err := io.ReadFull(rand.Reader, out[1:]); err != nil {
		return nil, fmt.Errorf("keyseal: %w", err)
	}
	return k.aead.Seal(out, out[1:], seed, []byte(id)), nil
}

// Sealed reports whether a stored seed is sealed (for diagnostics).
func Sealed(seed []byte) bool { return len(seed) == sealedLen && seed[0] == v1 }

// maxKeyFile bounds the key file we read.
const maxKeyFile = 1024

// LoadOrCreate reads the KEK at path (KeySize bytes, raw or hex), creating
// it with mode 0600 when it does not exist and create is true.
func LoadOrCreate(path string, create bool) ([]byte, error) {
	kek, err := load(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) || !create {
		return kek, err
	}
	kek = make([]byte, KeySize)
	if _, err := io.ReadFull(rand.Reader, kek); err != nil {
		return nil, fmt.Errorf("keyseal: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) { // created meanwhile by another process
		return load(path)
	}
	if err != nil {
		return nil, fmt.Errorf("keyseal: create secret key file: %w", err)
	}
	_, werr := fmt.Fprintf(f, "%x\n", kek)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("keyseal: write secret key file: %w", werr)
	}
	return kek, nil
}

func load(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keyseal: secret key file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("keyseal: secret key file: %w", err)
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("keyseal: secret key file %s is too large", path)
	}
	if len(b) == KeySize {
		return b, nil
	}
	kek, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(kek) != KeySize {
		return nil, fmt.Errorf("keyseal: secret key file %s: want %d random bytes, raw or as %d hex digits", path, KeySize, 2*KeySize)
	}
	return kek, nil
}
