package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"
)

// fetcher is go-tuf's Fetcher with a context, a size bound enforced while
// reading, and a check that a versioned metadata file ("3.targets.json")
// really carries the version its name promises.
type fetcher struct {
	ctx    context.Context
	client *http.Client
	ua     string
	mix    atomic.Bool
}

var versionedName = regexp.MustCompile(`/(\d+)\.(root|snapshot|targets)\.json$`)

func (f *fetcher) DownloadFile(url string, maxLength int64, _ time.Duration) ([]byte, error) {
	req, err := http.NewRequestWithContext(f.ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", f.ua)
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrServer, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// go-tuf treats 404/403 on N+1.root.json as "no newer root".
		return nil, &metadata.ErrDownloadHTTP{StatusCode: resp.StatusCode, URL: url}
	}
	if resp.ContentLength > maxLength {
		return nil, fmt.Errorf("%w: %s announces %d bytes, limit %d", ErrTooLarge, url, resp.ContentLength, maxLength)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxLength+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %w", ErrServer, url, err)
	}
	if int64(len(data)) > maxLength {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrTooLarge, url, maxLength)
	}
	if m := versionedName.FindStringSubmatch(url); m != nil {
		var probe struct {
			Signed struct {
				Version int64 `json:"version"`
			} `json:"signed"`
		}
		if json.Unmarshal(data, &probe) == nil && strconv.FormatInt(probe.Signed.Version, 10) != m[1] {
			f.mix.Store(true)
		}
	}
	return data, nil
}

// Metadata size bounds (endless-data protection). Defaults from go-tuf
// except the timestamp, which is tiny.
type Limits struct {
	// Root. Default: 512 KB.
	Root int64
	// Timestamp. Default: 16 KiB.
	Timestamp int64
	// Snapshot. Default: 2 MB.
	Snapshot int64
	// Targets. Default: 5 MB.
	Targets int64
	// Artifact is the largest artifact accepted, whatever TUF says. Default: 512 MiB.
	Artifact int64
	// Binary is the largest binary extracted from an archive. Default: 512 MiB.
	Binary int64
}

func (l *Limits) defaults() {
	def := func(p *int64, v int64) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&l.Root, 512000)
	def(&l.Timestamp, 16384)
	def(&l.Snapshot, 2000000)
	def(&l.Targets, 5000000)
	def(&l.Artifact, 512<<20)
	def(&l.Binary, 512<<20)
}

// refreshTUF runs the TUF client workflow (root rotation, timestamp,
// snapshot, targets) against <server>/tuf/ with the trusted metadata cached
// in <state>/tuf, and returns the updater for target lookups.
func (c *Client) refreshTUF(ctx context.Context) (*updater.Updater, error) {
	dir := filepath.Join(c.cfg.StateDir, "tuf")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	root := c.cfg.TrustedRoot
	if cached, err := os.ReadFile(filepath.Join(dir, "root.json")); err == nil && int64(len(cached)) <= c.cfg.Limits.Root {
		root = cached
	}
	cfg, err := config.New(c.cfg.ServerURL+"/tuf/", root)
	if err != nil {
		return nil, err
	}
	cfg.LocalMetadataDir = dir
	cfg.LocalTargetsDir = filepath.Join(c.cfg.StateDir, "staging")
	cfg.RemoteTargetsURL = c.cfg.ServerURL + "/tuf/targets/"
	cfg.RootMaxLength, cfg.TimestampMaxLength = c.cfg.Limits.Root, c.cfg.Limits.Timestamp
	cfg.SnapshotMaxLength, cfg.TargetsMaxLength = c.cfg.Limits.Snapshot, c.cfg.Limits.Targets
	f := &fetcher{ctx: ctx, client: c.http, ua: "slipway-updater/" + c.cfg.CurrentVersion}
	cfg.Fetcher = f
	up, err := updater.New(cfg)
	if err != nil {
		return nil, classify(err, false)
	}
	up.UnsafeSetRefTime(c.cfg.Now())
	if err := up.Refresh(); err != nil {
		return nil, classify(err, f.mix.Load())
	}
	return up, nil
}

// targetCustom mirrors publish.Custom (kept separate: the client must not
// depend on server packages).
type targetCustom struct {
	Product  string `json:"product"`
	Version  string `json:"version"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	Format   string `json:"format"`
	Channels map[string]struct {
		Rollout float64  `json:"rollout"`
		Revoked []string `json:"revoked"`
	} `json:"channels"`
	Keys         []string `json:"keys"`
	Endorsements []string `json:"endorsements"`
}

func customOf(tf *metadata.TargetFiles) (targetCustom, error) {
	var c targetCustom
	if tf.Custom == nil {
		return c, errors.New("target has no custom fields")
	}
	err := json.Unmarshal(*tf.Custom, &c)
	return c, err
}
