// Package memstore is an in-memory storage.Store for the updater's tests:
// real semantics (atomic Put, sorted List, content ETags, ErrNotFound) and a
// switch that makes every call fail, to test "storage is down".
package memstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/storage"
)

// ErrDown is returned by every call while the store is down.
var ErrDown = errors.New("memstore: storage is down")

// Store is a concurrency-safe in-memory storage.Store.
type Store struct {
	mu      sync.Mutex
	objects map[string][]byte
	mtimes  map[string]time.Time
	down    bool
	// BaseURL, when set, makes URL return BaseURL + "/" + key.
	BaseURL string
}

var _ storage.Conditional = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{objects: map[string][]byte{}, mtimes: map[string]time.Time{}}
}

// SetDown makes every call fail with ErrDown (true) or work again (false).
func (s *Store) SetDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

// Bytes returns a copy of an object, or nil.
func (s *Store) Bytes(key string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.objects[key])
}

// Keys returns every key, sorted.
func (s *Store) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.objects))
	for k := range s.objects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (s *Store) info(key string) storage.Info {
	sum := sha256.Sum256(s.objects[key])
	return storage.Info{Key: key, Size: int64(len(s.objects[key])), ModTime: s.mtimes[key],
		ETag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

// Put stores the whole object.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return ErrDown
	}
	s.objects[key] = data
	s.mtimes[key] = time.Now()
	return nil
}

// PutIf stores data if the object's content is prev (nil: absent).
func (s *Store) PutIf(ctx context.Context, key string, data []byte, contentType string, prev []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return ErrDown
	}
	cur, ok := s.objects[key]
	if (prev == nil && ok) || (prev != nil && (!ok || !bytes.Equal(cur, prev))) {
		return fmt.Errorf("put %s: %w", key, storage.ErrPrecondition)
	}
	s.objects[key] = bytes.Clone(data)
	s.mtimes[key] = time.Now()
	return nil
}

// Get opens an object.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, storage.Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return nil, storage.Info{}, ErrDown
	}
	data, ok := s.objects[key]
	if !ok {
		return nil, storage.Info{}, storage.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(data)), s.info(key), nil
}

// Stat describes an object.
func (s *Store) Stat(ctx context.Context, key string) (storage.Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return storage.Info{}, ErrDown
	}
	if _, ok := s.objects[key]; !ok {
		return storage.Info{}, storage.ErrNotFound
	}
	return s.info(key), nil
}

// List returns objects under prefix, sorted by key.
func (s *Store) List(ctx context.Context, prefix string) ([]storage.Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return nil, ErrDown
	}
	var out []storage.Info
	for k := range s.objects {
		if strings.HasPrefix(k, prefix) {
			out = append(out, s.info(k))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete removes an object.
func (s *Store) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return ErrDown
	}
	delete(s.objects, key)
	delete(s.mtimes, key)
	return nil
}

// URL returns BaseURL/key, or a memory:// URL.
func (s *Store) URL(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if s.BaseURL != "" {
		return s.BaseURL + "/" + key, nil
	}
	return "memory:///" + key, nil
}
