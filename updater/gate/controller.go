package gate

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Key names one channel of one product.
type Key struct{ Product, Channel string }

// Rollout is a channel with a plan, as published.
type Rollout struct {
	Key
	Version string
	Plan    Plan
}

// Store keeps rollout states. Save is a compare-and-swap on the revision
// Load returned (0 when there was none), so with several server replicas
// exactly one decision per evaluation wins.
type Store interface {
	Load(ctx context.Context, k Key) (st State, rev int64, err error)
	Save(ctx context.Context, k Key, rev int64, st State) (ok bool, err error)
}

// Source samples the fleet's health for a version.
type Source interface {
	Sample(ctx context.Context, product, version string, now time.Time) (Sample, error)
}

// Controller evaluates every planned rollout periodically and tells the
// update endpoints how far each may go.
type Controller struct {
	store Store
	src   Source
	opts  Options

	mu  sync.RWMutex
	cur map[Key]State
}

// Options configure a Controller.
type Options struct {
	// OnEvent is called once per decision that this replica won (start,
	// advance, halt): audit log, metrics. Optional.
	OnEvent func(ctx context.Context, k Key, st State, ev Event)
	// Logger. Default: discard.
	Logger *slog.Logger
}

// New returns a controller over a state store and a health source.
func New(store Store, src Source, opts Options) *Controller {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Controller{store: store, src: src, opts: opts, cur: map[Key]State{}}
}

// Tick evaluates each rollout once at now.
func (c *Controller) Tick(ctx context.Context, rs []Rollout, now time.Time) error {
	var errs []error
	for _, r := range rs {
		if err := c.tick(ctx, r, now); err != nil {
			errs = append(errs, fmt.Errorf("%s/%s: %w", r.Product, r.Channel, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("rollout gates: %v", errs)
	}
	return nil
}

func (c *Controller) tick(ctx context.Context, r Rollout, now time.Time) error {
	st, rev, err := c.store.Load(ctx, r.Key)
	if err != nil {
		return err
	}
	s, err := c.src.Sample(ctx, r.Product, r.Version, now)
	if err != nil {
		return err
	}
	next, ev := Evaluate(r.Plan, st, r.Version, s, now)
	if ev != None || !next.LastPoint().Equal(st.LastPoint()) { // a decision, or a history point
		ok, err := c.store.Save(ctx, r.Key, rev, next)
		if err != nil {
			return err
		}
		if !ok { // another replica decided first: adopt its state
			if next, _, err = c.store.Load(ctx, r.Key); err != nil {
				return err
			}
		} else if ev != None {
			c.opts.Logger.InfoContext(ctx, "rollout "+string(ev), "product", r.Product, "channel", r.Channel,
				"version", r.Version, "state", next.String())
			if c.opts.OnEvent != nil {
				c.opts.OnEvent(ctx, r.Key, next, ev)
			}
		}
	}
	c.mu.Lock()
	c.cur[r.Key] = next
	c.mu.Unlock()
	return nil
}

// Limit is the rollout percentage the plan allows now for version on
// k: the current step's, 0 when halted, the first step's before the
// first evaluation.
func (c *Controller) Limit(k Key, version string, p Plan) float64 {
	c.mu.RLock()
	st, ok := c.cur[k]
	c.mu.RUnlock()
	if !ok || st.Version != version {
		if len(p.Steps) == 0 {
			return 0
		}
		return p.Steps[0]
	}
	return st.Percent(p)
}

// State returns the last evaluated state of k.
func (c *Controller) State(k Key) (State, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	st, ok := c.cur[k]
	return st, ok
}

// States returns the last evaluated state of every rollout.
func (c *Controller) States() map[Key]State {
	c.mu.RLock()
	defer c.mu.RUnlock()
	m := make(map[Key]State, len(c.cur))
	for k, v := range c.cur {
		m[k] = v
	}
	return m
}

// MemStore is an in-memory Store (one process; tests).
type MemStore struct {
	mu sync.Mutex
	m  map[Key]memEntry
}

type memEntry struct {
	st  State
	rev int64
}

// Load implements Store.
func (m *MemStore) Load(_ context.Context, k Key) (State, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.m[k]
	return e.st, e.rev, nil
}

// Save implements Store.
func (m *MemStore) Save(_ context.Context, k Key, rev int64, st State) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[Key]memEntry{}
	}
	if m.m[k].rev != rev {
		return false, nil
	}
	m.m[k] = memEntry{st: st, rev: rev + 1}
	return true, nil
}
