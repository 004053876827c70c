package keyseal_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/keyseal"
	"github.com/slipwayhq/slipway/server/store"
)

// memKeys is a SigningKeyStore that keeps what it is given.
type memKeys struct {
	mu   sync.Mutex
	keys []store.SigningKey
}

func (m *memKeys) CreateSigningKey(_ context.Context, k store.SigningKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k.Seed = append([]byte(nil), k.Seed...)
	m.keys = append([]store.SigningKey{k}, m.keys...)
	return nil
}

func (m *memKeys) SigningKeys(context.Context) ([]store.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]store.SigningKey, len(m.keys))
	for i, k := range m.keys {
		k.Seed = append([]byte(nil), k.Seed...)
		out[i] = k
	}
	return out, nil
}

func (m *memKeys) RotateSigningKey(_ context.Context, k store.SigningKey, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k.Seed = append([]byte(nil), k.Seed...)
	m.keys = append([]store.SigningKey{k}, m.keys...)
	return nil
}

func (m *memKeys) ReplaceSigningKeySeed(_ context.Context, id string, old, seed []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, k := range m.keys {
		if k.ID == id && bytes.Equal(k.Seed, old) {
			m.keys[i].Seed = append([]byte(nil), seed...)
			return nil
		}
	}
	return store.ErrConflict
}

func kek(b byte) []byte { return bytes.Repeat([]byte{b}, keyseal.KeySize) }

func TestSealRoundTrip(t *testing.T) {
	ctx := t.Context()
	raw := &memKeys{}
	legacy := store.SigningKey{ID: "old", Seed: bytes.Repeat([]byte{7}, ed25519.SeedSize), CreatedAt: time.Unix(1, 0)}
	if err := raw.CreateSigningKey(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	k, err := keyseal.New(raw, kek(1))
	if err != nil {
		t.Fatal(err)
	}
	seed := bytes.Repeat([]byte{9}, ed25519.SeedSize)
	if err := k.CreateSigningKey(ctx, store.SigningKey{ID: "new", Seed: seed, CreatedAt: time.Unix(2, 0)}); err != nil {
		t.Fatal(err)
	}
	stored, _ := raw.SigningKeys(ctx)
	if !keyseal.Sealed(stored[0].Seed) || bytes.Contains(stored[0].Seed, seed[:8]) || keyseal.Sealed(stored[1].Seed) {
		t.Fatalf("stored seeds: %x / %x", stored[0].Seed, stored[1].Seed)
	}
	got, err := k.SigningKeys(ctx)
	if err != nil || len(got) != 2 || !bytes.Equal(got[0].Seed, seed) || !bytes.Equal(got[1].Seed, legacy.Seed) {
		t.Fatalf("opened: %+v, %v", got, err)
	}
	// A rotated-in key is sealed too.
	rotated := bytes.Repeat([]byte{5}, ed25519.SeedSize)
	if err := k.RotateSigningKey(ctx, store.SigningKey{ID: "rot", Seed: rotated, CreatedAt: time.Unix(3, 0)}, time.Unix(9, 0)); err != nil {
		t.Fatal(err)
	}
	if stored, _ := raw.SigningKeys(ctx); !keyseal.Sealed(stored[0].Seed) || bytes.Contains(stored[0].Seed, rotated[:8]) {
		t.Fatalf("rotated key stored as %x", stored[0].Seed)
	}
	if got, err := k.SigningKeys(ctx); err != nil || !bytes.Equal(got[0].Seed, rotated) {
		t.Fatalf("rotated key opened: %+v, %v", got, err)
	}
	raw.keys = raw.keys[1:]
	// Another KEK, a tampered seed or a seed moved to another key ID: refused.
	other, _ := keyseal.New(raw, kek(2))
	if _, err := other.SigningKeys(ctx); !errors.Is(err, keyseal.ErrWrongKey) {
		t.Fatalf("wrong KEK: %v", err)
	}
	for name, mutate := range map[string]func(*store.SigningKey){
		"flipped bit": func(k *store.SigningKey) { k.Seed[20] ^= 1 },
		"moved":       func(k *store.SigningKey) { k.ID = "elsewhere" },
		"truncated":   func(k *store.SigningKey) { k.Seed = k.Seed[:40] },
		"garbage":     func(k *store.SigningKey) { k.Seed = []byte("not a seed") },
	} {
		bad := &memKeys{}
		sk := stored[0]
		sk.Seed = append([]byte(nil), sk.Seed...)
		mutate(&sk)
		_ = bad.CreateSigningKey(ctx, sk)
		bk, _ := keyseal.New(bad, kek(1))
		if _, err := bk.SigningKeys(ctx); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
	if err := k.CreateSigningKey(ctx, store.SigningKey{ID: "short", Seed: []byte{1, 2}}); err == nil {
		t.Error("short seed sealed")
	}
	if _, err := keyseal.New(raw, []byte("short")); err == nil {
		t.Error("short KEK accepted")
	}
}

func TestLoadOrCreate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret.key")
	if _, err := keyseal.LoadOrCreate(path, false); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file without create: %v", err)
	}
	a, err := keyseal.LoadOrCreate(path, true)
	if err != nil || len(a) != keyseal.KeySize {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	b, err := keyseal.LoadOrCreate(path, true)
	if err != nil || !bytes.Equal(a, b) {
		t.Fatalf("second load differs: %v", err)
	}
	raw := filepath.Join(dir, "raw.key")
	_ = os.WriteFile(raw, kek(3), 0o600)
	if got, err := keyseal.LoadOrCreate(raw, false); err != nil || !bytes.Equal(got, kek(3)) {
		t.Fatalf("raw key: %v", err)
	}
	for name, content := range map[string]string{
		"short hex": "abcd", "not hex": strings.Repeat("zz", keyseal.KeySize), "empty": "",
		"oversize": strings.Repeat("a", 5000), "long hex": strings.Repeat("ab", keyseal.KeySize+1),
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		_ = os.WriteFile(p, []byte(content), 0o600)
		if _, err := keyseal.LoadOrCreate(p, true); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSealStored(t *testing.T) {
	ctx := t.Context()
	raw := &memKeys{}
	seeds := map[string][]byte{"a": bytes.Repeat([]byte{1}, ed25519.SeedSize), "b": bytes.Repeat([]byte{2}, ed25519.SeedSize)}
	for id, seed := range seeds {
		if err := raw.CreateSigningKey(ctx, store.SigningKey{ID: id, Seed: seed}); err != nil {
			t.Fatal(err)
		}
	}
	k, _ := keyseal.New(raw, kek(4))
	if err := k.CreateSigningKey(ctx, store.SigningKey{ID: "c", Seed: bytes.Repeat([]byte{3}, ed25519.SeedSize)}); err != nil {
		t.Fatal(err)
	}
	if n, err := k.SealStored(ctx); err != nil || n != 2 {
		t.Fatalf("sealed %d, %v; want the 2 plain ones", n, err)
	}
	if n, err := k.SealStored(ctx); err != nil || n != 0 {
		t.Fatalf("second pass sealed %d, %v", n, err)
	}
	stored, _ := raw.SigningKeys(ctx)
	for _, sk := range stored {
		if !keyseal.Sealed(sk.Seed) {
			t.Fatalf("key %s still plain", sk.ID)
		}
	}
	opened, err := k.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, sk := range opened {
		if want, ok := seeds[sk.ID]; ok && !bytes.Equal(sk.Seed, want) {
			t.Fatalf("key %s opened to another seed", sk.ID)
		}
	}
}
