package endpoint

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/slipwayhq/slipway/updater/repo"
)

// onlineKey is the TUF online key the server re-signs timestamp and
// snapshot with, re-read from its file when the file changes so that
// `slipway tuf rotate online` takes effect without a restart.
type onlineKey struct {
	mu     sync.Mutex
	path   string
	fixed  *repo.Signer // Options.OnlineKey
	signer *repo.Signer
	stamp  string // size and modification time of the file last read
}

// get returns the current key, or nil when there is none.
func (k *onlineKey) get() (*repo.Signer, error) {
	if k.path == "" {
		return k.fixed, nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	fi, err := os.Stat(k.path)
	if errors.Is(err, os.ErrNotExist) {
		k.signer, k.stamp = nil, ""
		return k.fixed, nil
	}
	if err != nil {
		return nil, err
	}
	stamp := fmt.Sprint(fi.Size(), fi.ModTime().UnixNano())
	if stamp != k.stamp {
		s, err := repo.LoadKey(k.path)
		if err != nil {
			return nil, fmt.Errorf("online key: %w", err)
		}
		k.signer, k.stamp = s, stamp
	}
	return k.signer, nil
}

// refreshTUF re-signs the timestamp (and snapshot) when they have used
// half their lifetime, with the current online key, when the current root
// trusts that key and, with replicas, when this server holds the signing
// lease. It records why it did not sign in h.signProblem.
func (h *Handler) refreshTUF(ctx context.Context) error {
	key, err := h.key.get()
	if err != nil {
		h.setSignProblem(err.Error())
		return err
	}
	r, err := repo.Open(ctx, h.st, h.opts.Prefix, h.opts.Repo)
	if errors.Is(err, repo.ErrNotInitialized) {
		h.setSignProblem("")
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case key == nil:
		h.setSignProblem("no TUF online key: timestamp and snapshot are not re-signed and clients stop updating when they expire (put tuf-online.key in the keys directory)")
		return nil
	case !r.CanSign(key, metadata.TIMESTAMP) || !r.CanSign(key, metadata.SNAPSHOT):
		h.setSignProblem(fmt.Sprintf("the TUF online key %s is not the one root version %d trusts (rotated elsewhere?): not signing with it", key.ID[:12], r.Root.Signed.Version))
		return nil
	}
	h.setSignProblem("")
	if !r.RefreshDue(h.opts.Now()) {
		return nil
	}
	if h.opts.Lease != nil {
		held, err := h.opts.Lease(ctx)
		if err != nil {
			return fmt.Errorf("signing lease: %w", err)
		}
		if !held {
			return nil // another replica signs
		}
		// Another replica may have signed while we waited for the lease.
		if r, err = repo.Open(ctx, h.st, h.opts.Prefix, h.opts.Repo); err != nil {
			return err
		}
	}
	if _, err := r.Refresh(ctx, key, h.opts.Now()); errors.Is(err, repo.ErrConflict) {
		// Another writer (an apply, a replica without the lease) changed
		// the metadata first; its write stands, Reload picks it up and the
		// next tick re-signs from it if still due.
		h.opts.Logger.InfoContext(ctx, "TUF metadata changed by another writer while re-signing; will retry", "err", err)
		return nil
	} else if err != nil {
		return fmt.Errorf("refresh TUF timestamp: %w", err)
	}
	return nil
}

func (h *Handler) setSignProblem(msg string) {
	h.warnMu.Lock()
	h.signProblem = msg
	h.warnMu.Unlock()
}

// Warnings are the problems an operator must act on: metadata close to
// expiry, a missing or revoked online key, the release store unreachable
// since start. The admin page shows them; Run logs them.
func (h *Handler) Warnings() []string {
	var out []string
	h.warnMu.Lock()
	if h.signProblem != "" {
		out = append(out, h.signProblem)
	}
	h.warnMu.Unlock()
	s := h.snap.Load()
	if s == nil {
		return append(out, "the release store is unreachable: update routes answer 503 until it is back")
	}
	now := h.opts.Now()
	for _, rs := range s.roles {
		if !rs.Warn(now) {
			continue
		}
		fix := "run `slipway tuf refresh` with the offline keys"
		if rs.Online {
			fix = "the server's online key has not re-signed it; check the log"
		}
		when := fmt.Sprintf("expires in %.1f days", rs.Left(now).Hours()/24)
		if rs.Left(now) <= 0 {
			when = "has EXPIRED: clients refuse every update"
		}
		out = append(out, fmt.Sprintf("TUF %s metadata (version %d) %s: %s", rs.Role, rs.Version, when, fix))
	}
	return out
}

// logWarnings logs the warnings when they change and at least daily.
func (h *Handler) logWarnings(ctx context.Context) {
	ws := fmt.Sprint(h.Warnings())
	now := h.opts.Now()
	h.warnMu.Lock()
	same := ws == h.lastWarn && now.Sub(h.lastWarnAt) < 24*time.Hour
	if !same {
		h.lastWarn, h.lastWarnAt = ws, now
	}
	h.warnMu.Unlock()
	if same {
		return
	}
	for _, w := range h.Warnings() {
		h.opts.Logger.WarnContext(ctx, "updates need attention", "problem", w)
	}
}

// expiryCollector exports slipway_tuf_expiry_days{role} from the loaded
// metadata, computed at scrape time.
type expiryCollector struct {
	h    *Handler
	desc *prometheus.Desc
}

func newExpiryCollector(h *Handler) *expiryCollector {
	return &expiryCollector{h: h, desc: prometheus.NewDesc("slipway_tuf_expiry_days",
		"Days until each TUF role's current metadata expires (negative once expired).", []string{"role"}, nil)}
}

func (c *expiryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *expiryCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.h.snap.Load()
	if s == nil {
		return
	}
	now := c.h.opts.Now()
	for _, rs := range s.roles {
		days := math.Round(rs.Left(now).Hours()/24*1000) / 1000
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, days, rs.Role)
	}
}
