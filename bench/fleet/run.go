package fleet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/storage/fs"
	"github.com/slipwayhq/slipway/updater/catalog"
	"github.com/slipwayhq/slipway/updater/channel"
	"github.com/slipwayhq/slipway/updater/publish"
	"github.com/slipwayhq/slipway/updater/repo"
	"github.com/slipwayhq/slipway/updater/rollout"
	"github.com/slipwayhq/slipway/updater/updatertest"
)

// Start is the simulated instant every scenario begins at.
var Start = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

// Result is what a rehearsal measured.
type Result struct {
	Scenario    string  `json:"scenario"`
	Machines    int     `json:"machines"`
	SimDays     float64 `json:"simDays"`
	WallSeconds float64 `json:"wallSeconds"`
	// HeartbeatsAcked were acknowledged to machines; HeartbeatsStored are
	// history rows minus acknowledged registrations (≥ acked: an answer
	// lost on the way back is stored but not acknowledged).
	HeartbeatsAcked  int64 `json:"heartbeatsAcked"`
	HeartbeatsStored int64 `json:"heartbeatsStored"`
	// Bricked: machines whose last update checks all failed outside
	// outages at the end (they can no longer update).
	Bricked []string `json:"bricked"`
	// Stuck: online machines not on the channel's version at the end.
	Stuck []string `json:"stuck"`
	// Promotions with each one's convergence.
	Promotions []Promotion `json:"promotions"`
	// Errors5xx outside injected outages and during them, by route.
	Errors5xx       map[string]int `json:"errors5xx"`
	Errors5xxOutage map[string]int `json:"errors5xxDuringOutages"`
	Requests        map[string]int `json:"requests"`
	BytesServed     int64          `json:"bytesServed"`
	InjectedDrops   int64          `json:"injectedNetworkFaults"`
	// ExpiredAt lists simulated instants at which a TUF role had expired.
	ExpiredAt []string `json:"expiredAt"`
	// UpdateErrors are the last update errors of machines still failing.
	UpdateErrors map[string]int `json:"updateErrors"`
	// RevokedInstalls: installs of a version after its revocation.
	RevokedInstalls []string `json:"revokedInstalls"`
	// OperatorRetries counts scripted actions retried (storage down).
	OperatorRetries int `json:"operatorRetries"`
	// Pauses counts channel pauses; HeldReleases the versions they held;
	// PausedInstalls installs of a held version between pause and resume.
	Pauses         int      `json:"pauses"`
	HeldReleases   int      `json:"heldReleases"`
	PausedInstalls []string `json:"pausedInstalls"`
	// Pinned counts pinned machines; PinViolations installs by a pinned
	// machine of another version after its pin.
	Pinned        int      `json:"pinned"`
	PinViolations []string `json:"pinViolations"`
	// MinisignRotations counts release-key changes started.
	MinisignRotations int `json:"minisignRotations"`
	// Database the servers ran on; Kills counts kill -9 events;
	// ServerProcesses counts server processes started.
	Database        string `json:"database"`
	Kills           int    `json:"kills"`
	ServerProcesses int    `json:"serverProcesses"`
	// P99ms is the 99th percentile wall time per route, measured at the
	// round-robin in front of the servers (milliseconds).
	P99ms map[string]float64 `json:"p99msByRoute"`
	// ServerCPUSeconds is the CPU time (user + system) of every server
	// process, from /proc; ServerPeakRSSMiB the largest peak RSS of one.
	ServerCPUSeconds float64 `json:"serverCPUSeconds"`
	ServerPeakRSSMiB float64 `json:"serverPeakRSSMiB"`
}

// Promotion is one channel move and how the fleet followed it.
type Promotion struct {
	Version string    `json:"version"`
	At      time.Time `json:"at"`
	// Eligible machines were online from At to the deadline.
	Eligible int `json:"eligible"`
	// Late machines converged after the deadline or never.
	Late     []string `json:"late"`
	P50Hours float64  `json:"p50Hours"`
	MaxHours float64  `json:"maxHours"`
	// Rollout is the percentage of a staged rollout (0: all machines):
	// only machines in its buckets are measured, and none outside may
	// install the version until the rollout widens (OutsideRollout).
	Rollout        float64  `json:"rollout,omitempty"`
	OutsideRollout []string `json:"outsideRollout,omitempty"`
	// Superseded: the next promotion came before the deadline.
	Superseded bool `json:"superseded,omitempty"`
	// Rollback: the channel moved back to an older version (Version),
	// revoking Revoked.
	Rollback bool   `json:"rollback,omitempty"`
	Revoked  string `json:"revoked,omitempty"`
	deadline time.Time
}

// session is one run's state.
type session struct {
	sc       *Scenario
	dir      string
	clock    *Clock
	raw      *fs.Store
	releases *faultStore
	pub      *updatertest.Publisher
	file     *channel.File
	srv      *slipway
	machines []*machine
	net      *lossy
	res      *Result

	pending     []Event
	outageUntil time.Time
	nextRefresh time.Time
	offline     map[int][][2]time.Time // machine -> offline periods
	published   map[string]bool
	pausedSince time.Time
	held        []heldRelease
	pinned      map[int]pinnedMachine
	retired     []*updatertest.Publisher // earlier release keys
	machinesDir string                   // the machines' state (see machinesDir)
	expiry      []repo.RoleStatus        // as of expiryKey
	expiryKey   []byte
}

// Run plays the scenario in dir (which it fills) and returns the results.
func Run(ctx context.Context, sc *Scenario, dir string) (*Result, error) {
	if err := sc.validate(); err != nil {
		return nil, err
	}
	wall := time.Now()
	r := &session{sc: sc, dir: dir, clock: &Clock{}, file: &channel.File{}, offline: map[int][][2]time.Time{}, pinned: map[int]pinnedMachine{},
		published: map[string]bool{}, res: &Result{Scenario: sc.Name, Machines: sc.Machines, SimDays: sc.Days, UpdateErrors: map[string]int{}}}
	r.clock.Set(Start)
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	defer func() {
		if r.machinesDir != "" && !strings.HasPrefix(r.machinesDir, dir) {
			_ = os.RemoveAll(r.machinesDir)
		}
	}()
	runErr := r.loop(ctx)
	err := errors.Join(runErr, r.finish(ctx))
	r.res.WallSeconds = time.Since(wall).Seconds()
	return r.res, err
}

func (r *session) setup(ctx context.Context) error {
	var err error
	if r.raw, err = fs.New(filepath.Join(r.dir, "artifacts"), fs.Options{}); err != nil {
		return err
	}
	r.releases = &faultStore{Store: r.raw}
	if r.pub, err = updatertest.NewPublisher(r.raw, "", 1); err != nil {
		return err
	}
	srvDir := filepath.Join(r.dir, "server")
	if _, _, err := repo.Init(ctx, r.raw, "", filepath.Join(srvDir, "keys"), Start, repo.Options{}); err != nil {
		return err
	}
	bin, err := BuildServer(ctx, r.dir)
	if err != nil {
		return err
	}
	if r.srv, err = newSlipway(ctx, bin, srvDir, filepath.Join(r.dir, "artifacts"), r.clock, r.releases, r.sc, r.sc.DatabaseURL); err != nil {
		return err
	}
	root, err := os.ReadFile(filepath.Join(r.dir, "artifacts", "tuf", "1.root.json"))
	if err != nil {
		return err
	}
	r.net = &lossy{next: r.srv, loss: r.sc.Loss, rnd: rand.New(rand.NewPCG(1, 2))}
	env := &machineEnv{clock: r.clock, url: publicURL, secret: r.srv.secret, root: root, minisign: r.pub.PK,
		http: &http.Client{Transport: r.net, Timeout: 30 * time.Second}, poll: time.Duration(r.sc.PollInterval),
		retryAfter: max(time.Duration(r.sc.Step), time.Duration(r.sc.PollInterval)/4)}
	if r.machinesDir, err = machinesDir(r.dir); err != nil {
		return err
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := range r.sc.Machines {
		var skew time.Duration
		if i < r.sc.Skewed {
			skew = time.Duration(r.sc.Skew)
		}
		m := newMachine(i, filepath.Join(r.machinesDir, fmt.Sprint(i)), skew, env, "0.9.0")
		m.nextBeat = Start.Add(time.Duration(rnd.Int64N(int64(r.sc.Step))))
		m.nextPoll = Start.Add(time.Duration(rnd.Int64N(int64(r.sc.PollInterval))))
		r.machines = append(r.machines, m)
	}
	r.pending = append([]Event(nil), r.sc.Events...)
	sort.SliceStable(r.pending, func(i, j int) bool { return r.pending[i].Day < r.pending[j].Day })
	r.nextRefresh = Start
	return nil
}

// machinesDir is where the simulated machines keep their identity and
// update state: a directory in /dev/shm (memory) when there is one, under
// dir otherwise. The agents' own disk writes (an fsync per heartbeat and
// per TUF file) are not what the rehearsal tests, and on a disk they were
// a third of the harness's CPU; the servers' database and the release
// store stay under dir, on disk. FLEET_MACHINES_DIR overrides (a path, or
// "disk" for dir).
func machinesDir(dir string) (string, error) {
	onDisk := filepath.Join(dir, "machines")
	switch v := os.Getenv("FLEET_MACHINES_DIR"); v {
	case "disk":
		return onDisk, nil
	case "":
		if st, err := os.Stat("/dev/shm"); err != nil || !st.IsDir() {
			return onDisk, nil
		}
		if d, err := os.MkdirTemp("/dev/shm", "slipway-fleet-"); err == nil {
			return d, nil
		}
		return onDisk, nil
	default:
		return os.MkdirTemp(v, "slipway-fleet-")
	}
}

func (r *session) loop(ctx context.Context) error {
	end := Start.Add(time.Duration(r.sc.Days * float64(24*time.Hour)))
	for now := Start; now.Before(end); now = now.Add(time.Duration(r.sc.Step)) {
		if err := ctx.Err(); err != nil {
			return err
		}
		r.clock.Set(now)
		if err := r.srv.setClock(ctx); err != nil {
			return fmt.Errorf("%s: set the servers' clock: %w", now, err)
		}
		if err := r.events(ctx, now); err != nil {
			return err
		}
		if err := r.srv.tick(ctx); err != nil && !r.releases.Down.Load() {
			return fmt.Errorf("%s: server tick: %w", now, err)
		}
		r.operatorRefresh(ctx, now)
		r.checkExpiry(ctx, now)
		r.runMachines(ctx, now)
	}
	return nil
}

// events applies due scripted events; operator actions that fail (the
// store is down) are retried at the next step.
func (r *session) events(ctx context.Context, now time.Time) error {
	if !r.outageUntil.IsZero() && !now.Before(r.outageUntil) {
		if err := r.srv.setDown(ctx, false); err != nil {
			return err
		}
		r.outageUntil = time.Time{}
	}
	for len(r.pending) > 0 && !now.Before(Start.Add(time.Duration(r.pending[0].Day*float64(24*time.Hour)))) {
		if err := r.event(ctx, now, r.pending[0]); err != nil {
			if r.releases.Down.Load() {
				r.res.OperatorRetries++
				return nil
			}
			return fmt.Errorf("%s: %+v: %w", now, r.pending[0], err)
		}
		r.pending = r.pending[1:]
	}
	return nil
}

func (r *session) event(ctx context.Context, now time.Time, e Event) error {
	keysDir := r.srv.keysDir
	switch {
	case e.Release != "":
		if !r.published[e.Release] {
			if _, err := r.pub.PublishE(ctx, "agent", e.Release, updatertest.Agent(e.Release)...); err != nil {
				return err
			}
			r.published[e.Release] = true
		}
		if !r.pausedSince.IsZero() {
			r.endPause(now) // promote resumes a paused channel
		}
		pct := 100.0
		if e.Rollout > 0 {
			pct = e.Rollout
		}
		if err := r.editAndApply(ctx, now, func() (string, error) {
			return e.Release, r.file.Promote("agent", "stable", e.Release, pct)
		}); err != nil {
			return err
		}
		if pct < 100 {
			r.res.Promotions[len(r.res.Promotions)-1].Rollout = pct
		}
		return nil
	case e.Rollout > 0:
		c, err := r.file.Channel("agent", "stable")
		if err != nil {
			return err
		}
		v := c.Version
		if err := r.editAndApply(ctx, now, func() (string, error) {
			return v, r.file.SetRollout("agent", "stable", e.Rollout)
		}); err != nil {
			return err
		}
		if e.Rollout < 100 {
			r.res.Promotions[len(r.res.Promotions)-1].Rollout = e.Rollout
		}
		return nil
	case e.Rollback:
		c, err := r.file.Channel("agent", "stable")
		if err != nil {
			return err
		}
		bad := c.Version
		err = r.editAndApply(ctx, now, func() (string, error) { return r.file.Rollback("agent", "stable") })
		if err == nil {
			p := &r.res.Promotions[len(r.res.Promotions)-1]
			p.Rollback, p.Revoked = true, bad
		}
		return err
	case e.Rotate == "minisign":
		return r.rotateMinisign(ctx, now)
	case e.RetireMinisign:
		return r.retireMinisign(ctx, now)
	case e.Rotate != "":
		rp, err := repo.Open(ctx, r.releases, "", repo.Options{})
		if err != nil {
			return err
		}
		return rp.RotateKey(ctx, keysDir, e.Rotate, now)
	case e.Restart:
		return r.srv.restart(ctx)
	case e.Pause, e.Resume:
		return r.pause(ctx, now, e.Pause)
	case e.Pin > 0:
		return r.pin(ctx, now, e.Pin)
	case e.Kill:
		r.res.Kills++
		return r.srv.kill(ctx)
	case e.Outage > 0:
		r.outageUntil = now.Add(time.Duration(e.Outage))
		return r.srv.setDown(ctx, true)
	case e.Offline > 0:
		for i := range e.Offline {
			m := r.machines[(r.sc.Machines-1-i-len(r.offline))%r.sc.Machines]
			m.offlineUntil = now.Add(time.Duration(e.OfflineFor))
			r.offline[m.id] = append(r.offline[m.id], [2]time.Time{now, m.offlineUntil})
		}
	}
	return nil
}

// editAndApply edits the channels file and applies it; on failure the
// edit is undone so the event can be retried.
func (r *session) editAndApply(ctx context.Context, now time.Time, edit func() (string, error)) error {
	var saved *channel.Channel
	if c, err := r.file.Channel("agent", "stable"); err == nil {
		cp := *c
		saved = &cp
	}
	v, err := edit()
	if err == nil {
		err = r.apply(ctx, now, v)
	}
	if err != nil && saved != nil {
		c, _ := r.file.Channel("agent", "stable")
		*c = *saved
	}
	return err
}

// apply is `slipway apply` with the operator's keys, and records the
// promotion.
func (r *session) apply(ctx context.Context, now time.Time, version string) error {
	keys, err := repo.LoadKeys(r.srv.keysDir)
	if err != nil {
		return err
	}
	cfg := publish.Config{Store: r.releases, Verifier: catalog.Minisign{Key: r.pub.PK}}
	if _, err := publish.Apply(ctx, cfg, r.file, keys, now); err != nil {
		return err
	}
	r.res.Promotions = append(r.res.Promotions, Promotion{Version: version, At: now,
		deadline: now.Add(2 * time.Duration(r.sc.PollInterval))})
	return nil
}

// copyFile deep-copies the channels file (to undo a failed edit).
func copyFile(f *channel.File) (*channel.File, error) {
	data, err := f.Marshal()
	if err != nil {
		return nil, err
	}
	return channel.Parse(data)
}

// heldRelease is the channel's version while it was paused: no machine
// may install it between the pause and the resume.
type heldRelease struct {
	version       string
	from, resumed time.Time
}

// pinnedMachine is a machine held on a version from a time.
type pinnedMachine struct {
	version string
	at      time.Time
}

// pause is `slipway pause|resume agent stable` + apply. A resume counts
// as a promotion of the channel's version (measured from now).
func (r *session) pause(ctx context.Context, now time.Time, paused bool) error {
	saved, err := copyFile(r.file)
	if err != nil {
		return err
	}
	if err := r.file.SetPaused("agent", "stable", paused); err != nil {
		return err
	}
	if err := r.applyOnly(ctx, now); err != nil {
		r.file = saved
		return err
	}
	c, err := r.file.Channel("agent", "stable")
	if err != nil {
		return err
	}
	if paused {
		// The promotion in progress is held: measured again from the resume.
		if n := len(r.res.Promotions); n > 0 && r.res.Promotions[n-1].deadline.After(now) {
			r.res.Promotions[n-1].Superseded = true
		}
		r.pausedSince = now
		r.held = append(r.held, heldRelease{version: c.Version, from: now})
		r.res.Pauses++
		return nil
	}
	r.endPause(now)
	r.res.Promotions = append(r.res.Promotions, Promotion{Version: c.Version, At: now,
		deadline: now.Add(2 * time.Duration(r.sc.PollInterval))})
	return nil
}

// endPause marks the held releases resumed at now.
func (r *session) endPause(now time.Time) {
	r.pausedSince = time.Time{}
	for i := range r.held {
		if r.held[i].resumed.IsZero() {
			r.held[i].resumed = now
		}
	}
}

// pin is `slipway pin agent stable <current> --machine <id>` + apply for
// n online machines not pinned yet.
func (r *session) pin(ctx context.Context, now time.Time, n int) error {
	c, err := r.file.Channel("agent", "stable")
	if err != nil {
		return err
	}
	saved, err := copyFile(r.file)
	if err != nil {
		return err
	}
	var ids []int
	for _, m := range r.machines {
		if _, ok := r.pinned[m.id]; ok || m.offlineUntil.After(now) || m.installed != c.Version || len(ids) == n {
			continue
		}
		if err := r.file.Pin("agent", "stable", "machine", fmt.Sprintf("sim-%05d", m.id), c.Version); err != nil {
			return err
		}
		ids = append(ids, m.id)
	}
	if err := r.applyOnly(ctx, now); err != nil {
		r.file = saved
		return err
	}
	for _, id := range ids {
		r.pinned[id] = pinnedMachine{version: c.Version, at: now}
	}
	return nil
}

// rotateMinisign is `slipway release-key endorse agent` + apply: the
// current release key endorses a new one; releases from now on are
// signed with the new key, and machines learn it from signed metadata.
func (r *session) rotateMinisign(ctx context.Context, now time.Time) error {
	next, err := updatertest.NewPublisher(r.raw, "", byte(2+len(r.retired)))
	if err != nil {
		return err
	}
	keys, ends := slices.Clone(r.file.Keys["agent"]), slices.Clone(r.file.Endorsements["agent"])
	if err := r.file.Endorse("agent", r.pub.SK, r.pub.PK, next.PK, now); err != nil {
		return err
	}
	if err := r.applyOnly(ctx, now); err != nil {
		r.file.Keys["agent"], r.file.Endorsements["agent"] = keys, ends // retried next step
		return err
	}
	r.retired = append(r.retired, r.pub)
	r.pub = next
	r.res.MinisignRotations++
	return nil
}

// retireMinisign is `slipway release-key retire agent <old>` + apply.
func (r *session) retireMinisign(ctx context.Context, now time.Time) error {
	if len(r.retired) == 0 {
		return errors.New("retire_minisign before rotate: minisign")
	}
	old := r.retired[len(r.retired)-1]
	keys := slices.Clone(r.file.Keys["agent"])
	if err := r.file.Retire("agent", old.PK.ID); err != nil {
		return err
	}
	if err := r.applyOnly(ctx, now); err != nil {
		r.file.Keys["agent"] = keys
		return err
	}
	return nil
}

// applyOnly is `slipway apply` without a promotion to measure.
func (r *session) applyOnly(ctx context.Context, now time.Time) error {
	keys, err := repo.LoadKeys(r.srv.keysDir)
	if err != nil {
		return err
	}
	cfg := publish.Config{Store: r.releases, Verifier: catalog.Minisign{Key: r.pub.PK}}
	_, err = publish.Apply(ctx, cfg, r.file, keys, now)
	return err
}

// operatorRefresh is the scheduled `slipway tuf refresh --within 60`.
func (r *session) operatorRefresh(ctx context.Context, now time.Time) {
	if now.Before(r.nextRefresh) {
		return
	}
	keys, err := repo.LoadKeys(r.srv.keysDir)
	if err != nil {
		return
	}
	rp, err := repo.Open(ctx, r.releases, "", repo.Options{})
	if err != nil {
		return // storage down: the job fails and runs again
	}
	if _, err := rp.RefreshOffline(ctx, keys, now, 60*24*time.Hour); err != nil {
		return
	}
	r.nextRefresh = now.Add(time.Duration(r.sc.RefreshEvery))
}

// checkExpiry records any instant at which a role had expired. The
// repository is re-opened (and verified) only when root.json or
// timestamp.json changed: any new targets or snapshot comes with a new
// timestamp, so the expiry dates are the same otherwise.
func (r *session) checkExpiry(ctx context.Context, now time.Time) {
	key, err := r.tufKey(ctx)
	if err != nil || !bytes.Equal(key, r.expiryKey) {
		rp, err := repo.Open(ctx, r.raw, "", repo.Options{})
		if err != nil {
			r.res.ExpiredAt = append(r.res.ExpiredAt, now.Format(time.RFC3339)+" unreadable: "+err.Error())
			return
		}
		r.expiry, r.expiryKey = rp.Status(), key
	}
	for _, s := range r.expiry {
		if s.Left(now) <= 0 {
			r.res.ExpiredAt = append(r.res.ExpiredAt, now.Format(time.RFC3339)+" "+s.Role)
		}
	}
}

// tufKey is root.json and timestamp.json as stored.
func (r *session) tufKey(ctx context.Context) ([]byte, error) {
	var key []byte
	for _, name := range []string{"root.json", "timestamp.json"} {
		data, _, err := catalog.ReadLimited(ctx, r.raw, repo.Dir("")+"/"+name, repo.MaxMetadataSize)
		if err != nil {
			return nil, err
		}
		key = append(append(key, data...), 0)
	}
	return key, nil
}

// runMachines runs every due machine's heartbeat and update check.
func (r *session) runMachines(ctx context.Context, now time.Time) {
	work := make(chan *machine)
	var wg sync.WaitGroup
	for range r.sc.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range work {
				if !m.nextBeat.After(now) {
					m.beat(ctx)
				}
				if !m.nextPoll.After(now) {
					m.update(ctx)
				}
			}
		}()
	}
	for _, m := range r.machines {
		if m.offlineUntil.After(now) {
			continue
		}
		if !m.nextBeat.After(now) || !m.nextPoll.After(now) {
			work <- m
		}
	}
	close(work)
	wg.Wait()
}

// finish stops the server (flushing heartbeats) and computes the results.
func (r *session) finish(ctx context.Context) error {
	now := r.clock.Now()
	if err := r.srv.close(); err != nil {
		return err
	}
	st := r.srv.stats
	r.res.Errors5xx, r.res.Errors5xxOutage, r.res.Requests = st.errors, st.outage, st.requests
	r.res.BytesServed, r.res.InjectedDrops = st.bytes.Load(), r.net.dropped.Load()
	r.res.P99ms = st.p99()
	r.res.ServerCPUSeconds, r.res.ServerPeakRSSMiB = r.srv.cpu.Seconds(), float64(r.srv.maxRSS)/1024
	r.res.ServerProcesses = r.srv.starts
	r.res.Database = "sqlite"
	if r.sc.DatabaseURL != "" {
		r.res.Database = fmt.Sprintf("postgres, %d replicas", len(r.srv.procs))
	}
	rows, err := r.srv.countHeartbeats(ctx)
	if err != nil {
		return err
	}
	var enrolled int64
	var head string
	if c, err := r.file.Channel("agent", "stable"); err == nil {
		head = c.Version
	}
	for _, m := range r.machines {
		r.res.HeartbeatsAcked += m.acked.Load()
		enrolled += int64(m.enrolls)
		name := fmt.Sprintf("sim-%05d", m.id)
		if m.offlineUntil.After(now) {
			continue
		}
		if m.failedChecks >= 3 {
			r.res.Bricked = append(r.res.Bricked, name+": "+m.lastErr)
			r.res.UpdateErrors[m.lastErr]++
		}
		if p, ok := r.pinned[m.id]; ok {
			head := p.version
			if m.installed != head {
				r.res.Stuck = append(r.res.Stuck, name+" on "+m.installed+", pinned to "+head)
			}
			continue
		}
		if m.installed != head {
			r.res.Stuck = append(r.res.Stuck, name+" on "+m.installed)
		}
	}
	r.res.HeartbeatsStored = rows - enrolled
	r.convergence()
	r.revokedInstalls()
	r.pausesAndPins()
	return nil
}

// pausesAndPins lists installs of held releases before their resume and
// installs by pinned machines after their pin.
func (r *session) pausesAndPins() {
	r.res.HeldReleases, r.res.Pinned = len(r.held), len(r.pinned)
	for _, m := range r.machines {
		for _, in := range m.history {
			for _, h := range r.held {
				if in.version == h.version && !in.at.Before(h.from) && (h.resumed.IsZero() || in.at.Before(h.resumed)) {
					r.res.PausedInstalls = append(r.res.PausedInstalls, fmt.Sprintf("sim-%05d installed held %s at %s", m.id, in.version, in.at.Format(time.RFC3339)))
				}
			}
			if p, ok := r.pinned[m.id]; ok && in.at.After(p.at) && in.version != p.version {
				r.res.PinViolations = append(r.res.PinViolations, fmt.Sprintf("sim-%05d pinned to %s installed %s at %s", m.id, p.version, in.version, in.at.Format(time.RFC3339)))
			}
		}
	}
}

// revokedInstalls lists every install of a version at or after the
// rollback that revoked it.
func (r *session) revokedInstalls() {
	for _, p := range r.res.Promotions {
		if p.Revoked == "" {
			continue
		}
		for _, m := range r.machines {
			for _, in := range m.history {
				if in.version == p.Revoked && !in.at.Before(p.At) {
					r.res.RevokedInstalls = append(r.res.RevokedInstalls,
						fmt.Sprintf("sim-%05d installed revoked %s at %s", m.id, in.version, in.at.Format(time.RFC3339)))
				}
			}
		}
	}
}

// convergence measures, for each promotion, how long online machines
// took to install it (machines offline at any point of the window are
// not eligible).
func (r *session) convergence() {
	for i := range r.res.Promotions {
		p := &r.res.Promotions[i]
		if i+1 < len(r.res.Promotions) && r.res.Promotions[i+1].At.Before(p.deadline) {
			p.Superseded = true
			continue
		}
		var took []float64
		for _, m := range r.machines {
			if r.offlineDuring(m.id, p.At, p.deadline) {
				continue
			}
			if pin, ok := r.pinned[m.id]; ok && pin.at.Before(p.At) {
				continue // held on its pin
			}
			if p.Rollout > 0 && !rollout.In(fmt.Sprintf("sim-%05d", m.id), "agent", p.Version, p.Rollout) {
				r.outsideRollout(p, i, m)
				continue
			}
			p.Eligible++
			at, ok := m.installedAt(p.Version, p.At)
			if !ok && m.versionAt(p.At) == p.Version {
				// Already there: the rollback target it never left, or a
				// staged or paused version it got before the widening.
				at, ok = p.At, true
			}
			if !ok || at.After(p.deadline) {
				p.Late = append(p.Late, fmt.Sprintf("sim-%05d", m.id))
				continue
			}
			took = append(took, at.Sub(p.At).Hours())
		}
		sort.Float64s(took)
		if len(took) > 0 {
			p.P50Hours, p.MaxHours = took[len(took)/2], took[len(took)-1]
		}
	}
}

// outsideRollout records an install of a staged version by a machine
// outside its buckets before the next promotion.
func (r *session) outsideRollout(p *Promotion, i int, m *machine) {
	until := time.Unix(1<<40, 0)
	if i+1 < len(r.res.Promotions) {
		until = r.res.Promotions[i+1].At
	}
	if at, ok := m.installedAt(p.Version, p.At); ok && at.Before(until) {
		p.OutsideRollout = append(p.OutsideRollout, fmt.Sprintf("sim-%05d at %s", m.id, at.Format(time.RFC3339)))
	}
}

// offlineDuring reports whether the machine was offline at any time in
// [from, to].
func (r *session) offlineDuring(id int, from, to time.Time) bool {
	for _, p := range r.offline[id] {
		if p[0].Before(to) && p[1].After(from) {
			return true
		}
	}
	return false
}

// versionAt is the version the machine ran at t.
func (m *machine) versionAt(t time.Time) string {
	v := m.first
	for _, in := range m.history {
		if in.at.After(t) {
			break
		}
		v = in.version
	}
	return v
}

// installedAt is when the machine first installed version at or after t.
func (m *machine) installedAt(version string, t time.Time) (time.Time, bool) {
	for _, in := range m.history {
		if in.version == version && !in.at.Before(t) {
			return in.at, true
		}
	}
	return time.Time{}, false
}
