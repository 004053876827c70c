// Package rehearsal is what the fleet rehearsal (bench/fleet) controls
// inside a real `slipway server` process built with `-tags rehearsal`: a
// clock it moves, a switchable fault in front of the release store, and
// the server's periodic work run on demand. Production builds never link
// it (cmd/slipway/rehearsal_on.go is the only importer, behind the tag).
//
// The control routes (POST /_rehearsal/clock?ns=, /_rehearsal/store?down=1|0,
// /_rehearsal/tick) answer only loopback clients presenting the token the
// harness put in SLIPWAY_REHEARSAL_TOKEN (header X-Slipway-Rehearsal-Token),
// compared in constant time.
package rehearsal

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/storage"
)

// Environment of a rehearsal server process.
const (
	// EnvToken enables the rehearsal hooks and authenticates the harness.
	EnvToken = "SLIPWAY_REHEARSAL_TOKEN"
	// EnvClock is the simulated start instant (Unix nanoseconds).
	EnvClock = "SLIPWAY_REHEARSAL_CLOCK"
	// TokenHeader carries the token on control requests (not
	// Authorization: the server reads that as an admin credential).
	TokenHeader = "X-Slipway-Rehearsal-Token"
	// ListeningPrefix starts the line giving the real listen address on
	// stdout (the public URL is the harness's round-robin).
	ListeningPrefix = "rehearsal listening "
)

// Clock is the scenario's clock.
type Clock struct{ ns atomic.Int64 }

// Now returns the simulated time.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// Set moves the clock.
func (c *Clock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

// ErrDown is what the release store answers during an outage.
var ErrDown = errors.New("rehearsal: release store outage")

// FaultStore is a storage.Store that fails every call while Down.
type FaultStore struct {
	storage.Store
	Down atomic.Bool
}

func (f *FaultStore) check() error {
	if f.Down.Load() {
		return ErrDown
	}
	return nil
}

// Put implements storage.Store.
func (f *FaultStore) Put(ctx context.Context, key string, r io.Reader, size int64, ct string) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.Store.Put(ctx, key, r, size, ct)
}

// PutIf implements storage.Conditional when the wrapped store does.
func (f *FaultStore) PutIf(ctx context.Context, key string, data []byte, ct string, prev []byte) error {
	if err := f.check(); err != nil {
		return err
	}
	c, ok := f.Store.(storage.Conditional)
	if !ok {
		return fmt.Errorf("rehearsal: %T has no conditional writes", f.Store)
	}
	return c.PutIf(ctx, key, data, ct, prev)
}

// Get implements storage.Store.
func (f *FaultStore) Get(ctx context.Context, key string) (io.ReadCloser, storage.Info, error) {
	if err := f.check(); err != nil {
		return nil, storage.Info{}, err
	}
	return f.Store.Get(ctx, key)
}

// Stat implements storage.Store.
func (f *FaultStore) Stat(ctx context.Context, key string) (storage.Info, error) {
	if err := f.check(); err != nil {
		return storage.Info{}, err
	}
	return f.Store.Stat(ctx, key)
}

// List implements storage.Store.
func (f *FaultStore) List(ctx context.Context, prefix string) ([]storage.Info, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	return f.Store.List(ctx, prefix)
}

// Delete implements storage.Store.
func (f *FaultStore) Delete(ctx context.Context, key string) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.Store.Delete(ctx, key)
}

// Control is the harness's side door into one server process.
type Control struct {
	Clock *Clock
	Store *FaultStore
	token string

	mu   sync.Mutex
	tick func(context.Context) error
}

// NewControl returns the control of a process whose token is token (at
// least 16 bytes) and whose clock starts at start.
func NewControl(token string, start time.Time) (*Control, error) {
	if len(token) < 16 {
		return nil, fmt.Errorf("%s: want at least 16 characters", EnvToken)
	}
	c := &Control{Clock: &Clock{}, token: token}
	c.Clock.Set(start)
	return c, nil
}

// ParseClock reads EnvClock's value.
func ParseClock(v string) (time.Time, error) {
	ns, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: want Unix nanoseconds: %w", EnvClock, err)
	}
	return time.Unix(0, ns).UTC(), nil
}

// Wrap puts the switchable fault in front of the release store.
func (c *Control) Wrap(st storage.Store) storage.Store {
	c.Store = &FaultStore{Store: st}
	return c.Store
}

// SetTick sets the periodic work /_rehearsal/tick runs (the update
// endpoints' Tick).
func (c *Control) SetTick(f func(context.Context) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tick = f
}

// Routes mounts the control routes.
func (c *Control) Routes(r chi.Router) {
	r.Post("/_rehearsal/clock", c.guard(func(w http.ResponseWriter, r *http.Request) {
		ns, err := strconv.ParseInt(r.URL.Query().Get("ns"), 10, 64)
		if err != nil {
			http.Error(w, "ns: want Unix nanoseconds", http.StatusBadRequest)
			return
		}
		c.Clock.Set(time.Unix(0, ns))
	}))
	r.Post("/_rehearsal/store", c.guard(func(w http.ResponseWriter, r *http.Request) {
		if c.Store == nil {
			http.Error(w, "no release store", http.StatusConflict)
			return
		}
		switch r.URL.Query().Get("down") {
		case "1":
			c.Store.Down.Store(true)
		case "0":
			c.Store.Down.Store(false)
		default:
			http.Error(w, "down: want 1 or 0", http.StatusBadRequest)
		}
	}))
	r.Post("/_rehearsal/tick", c.guard(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		tick := c.tick
		c.mu.Unlock()
		if tick == nil {
			http.Error(w, "no periodic work", http.StatusConflict)
			return
		}
		// Errors while the store is down are the outage, not a failure.
		if err := tick(r.Context()); err != nil && (c.Store == nil || !c.Store.Down.Load()) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}))
}

// guard admits loopback clients with the token.
func (c *Control) guard(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		ip := net.ParseIP(host)
		tok := r.Header.Get(TokenHeader)
		if err != nil || ip == nil || !ip.IsLoopback() || subtle.ConstantTimeCompare([]byte(tok), []byte(c.token)) != 1 {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		next(w, r)
	}
}
