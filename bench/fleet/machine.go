package fleet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slipwayhq/slipway/agent/enroll"
	"github.com/slipwayhq/slipway/agent/heartbeat"
	"github.com/slipwayhq/slipway/agent/identity"
	"github.com/slipwayhq/slipway/agent/inventory"
	"github.com/slipwayhq/slipway/machineapi"
	"github.com/slipwayhq/slipway/signing/minisign"
	"github.com/slipwayhq/slipway/updater/client"
)

// lossy is the network between machines and server: it drops a fraction
// of requests before they leave (a reset) and truncates a fraction of
// answers after the server handled them.
type lossy struct {
	next http.RoundTripper
	loss float64
	mu   sync.Mutex
	rnd  *rand.Rand
	// dropped counts injected faults.
	dropped atomic.Int64
}

func (l *lossy) roll() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rnd.Float64()
}

// faultsKey carries, in a request's context, the counter of the faults
// injected into one update check (see machine.update).
type faultsKey struct{}

// injected counts a fault in the request's check, if it has a counter.
func injected(r *http.Request) {
	if n, ok := r.Context().Value(faultsKey{}).(*atomic.Int64); ok {
		n.Add(1)
	}
}

func (l *lossy) RoundTrip(r *http.Request) (*http.Response, error) {
	x := l.roll()
	if x < l.loss/2 {
		l.dropped.Add(1)
		injected(r)
		return nil, errors.New("fleet: connection reset (injected)")
	}
	resp, err := l.next.RoundTrip(r)
	if err != nil || x >= l.loss {
		return resp, err
	}
	l.dropped.Add(1)
	injected(r)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body[:len(body)/2]), errReader{}))
	return resp, nil
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

// collector is a fixed inventory naming the machine (its fingerprint).
type collector struct{ rep *inventory.Report }

func (c collector) Collect(context.Context) *inventory.Report { return c.rep }

// machine is one simulated machine.
type machine struct {
	id   int
	dir  string
	skew time.Duration
	env  *machineEnv

	ids       identity.Store
	loop      *heartbeat.Loop
	installed string
	first     string // version before any update

	nextBeat, nextPoll time.Time
	offlineUntil       time.Time
	acked              atomic.Int64
	enrolls            int
	failedChecks       int // consecutive, not explained by an injected fault
	lastErr            string
	history            []install // versions installed, in order
	rnd                *rand.Rand
}

type install struct {
	at      time.Time // server time
	version string
}

// machineEnv is what every machine shares.
type machineEnv struct {
	clock      *Clock
	url        string
	secret     string
	http       *http.Client
	root       []byte
	minisign   *minisign.PublicKey
	poll       time.Duration
	retryAfter time.Duration
}

func newMachine(id int, dir string, skew time.Duration, env *machineEnv, version string) *machine {
	return &machine{id: id, dir: dir, skew: skew, env: env, installed: version, first: version,
		ids: identity.Store{Dir: filepath.Join(dir, "identity")},
		rnd: rand.New(rand.NewPCG(uint64(id), 42))}
}

func (m *machine) now() time.Time { return m.env.clock.Now().Add(m.skew) }

func (m *machine) inventory() collector {
	name := fmt.Sprintf("sim-%05d", m.id)
	return collector{&inventory.Report{Hostname: name, MachineUUID: fmt.Sprintf("00000000-0000-4000-8000-%012d", m.id),
		HardwareSerial: name, UptimeSeconds: 3600,
		OS:      inventory.OS{Name: "linux", Version: "6.1", Family: "debian", Architecture: "amd64"},
		Network: []inventory.Interface{{Name: "eth0", MAC: fmt.Sprintf("02:00:00:%02x:%02x:%02x", m.id>>16&0xff, m.id>>8&0xff, m.id&0xff)}}}}
}

func (m *machine) enroll(ctx context.Context) (identity.State, error) {
	m.enrolls++
	e := enroll.New(m.ids, m.inventory(), enroll.Options{AgentVersion: m.installed, Now: m.now,
		ClientOptions: machineapi.Options{HTTPClient: m.env.http}})
	return e.Enroll(ctx, enroll.Config{Server: m.env.url, ProvisioningSecret: m.env.secret})
}

// newLoop is the agent's heartbeat loop for the installed version (a real
// agent restarts into a new loop after an update).
func (m *machine) newLoop() {
	m.loop = heartbeat.New(m.ids, m.inventory(), m.enroll, nil, heartbeat.Options{
		AgentVersion: m.installed, Now: m.now, Rand: rand.New(rand.NewPCG(uint64(m.id), 7)),
		ClientOptions: machineapi.Options{HTTPClient: m.env.http},
		OnSuccess:     func(context.Context) { m.acked.Add(1) },
	})
}

// beat runs one heartbeat cycle and schedules the next.
func (m *machine) beat(ctx context.Context) {
	if m.loop == nil {
		m.newLoop()
	}
	wait, _ := m.loop.Beat(ctx)
	m.nextBeat = m.env.clock.Now().Add(wait)
}

// update runs the real update client once: Check (TUF refreshed on every
// answer), Download (TUF length and hashes, minisign), then records the
// new version as installed.
func (m *machine) update(ctx context.Context) {
	var faults atomic.Int64
	ctx = context.WithValue(ctx, faultsKey{}, &faults)
	c, err := client.New(client.Config{Product: "agent", Channel: "stable", ServerURL: m.env.url,
		TrustedRoot: m.env.root, MinisignKey: m.env.minisign, StateDir: filepath.Join(m.dir, "update"),
		CurrentVersion: m.installed, MachineID: fmt.Sprintf("sim-%05d", m.id), OS: "linux", Arch: "amd64",
		BinaryPath: filepath.Join(m.dir, "slipway-agent"), HTTPClient: m.env.http, Now: m.now})
	if err == nil {
		err = m.tryUpdate(ctx, c)
	}
	now := m.env.clock.Now()
	if err != nil {
		// A check that failed on a reset or truncated answer the network
		// injected is retried but does not count toward "bricked": with
		// 1 % loss, 10,000 machines see three such checks in a row.
		if faults.Load() == 0 {
			m.failedChecks++
		}
		m.lastErr = err.Error()
		m.nextPoll = now.Add(m.env.retryAfter)
		return
	}
	m.failedChecks, m.lastErr = 0, ""
	m.nextPoll = now.Add(m.env.poll + time.Duration(m.rnd.Int64N(int64(m.env.poll)/10+1)))
}

func (m *machine) tryUpdate(ctx context.Context, c *client.Client) error {
	offer, err := c.Check(ctx)
	if err != nil || offer == nil {
		return err
	}
	staged, err := c.Download(ctx, offer)
	if err != nil {
		return err
	}
	_ = os.Remove(staged)
	m.installed = offer.Version
	m.history = append(m.history, install{at: m.env.clock.Now(), version: offer.Version})
	m.loop = nil // the new version starts a new heartbeat loop
	return nil
}
