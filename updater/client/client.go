// Package client is the self-update client used by the agent and the
// desktop app. One update runs in numbered steps:
//
//  1. ask the server (/v1/updates) which version this machine should run;
//  2. refresh TUF metadata (/tuf/) and look the offered file up in the
//     signed targets: product, OS, arch and version must match, and an
//     older version is refused unless the signed channel points at it;
//  3. download to a staging file with a size bound, resuming with HTTP
//     Range after a dropped connection;
//  4. verify TUF length and hashes, then the minisign signature (never
//     optional);
//  5. extract the binary, run its self-check and its trial run (the
//     running binary starts the new one and hands over only when it
//     reports healthy; a version that fails is remembered and never
//     installed again);
//  6. swap atomically, keeping the previous binary;
//  7. after restart, Startup rolls back if the new version has not
//     called ConfirmHealthy within the deadline.
package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/signing/minisign"
	"github.com/slipwayhq/slipway/updater/semver"
)

// Config configures a Client. Required: Product, Channel, ServerURL,
// TrustedRoot, MinisignKey, StateDir, CurrentVersion.
type Config struct {
	Product string
	Channel string
	// ServerURL is the Slipway server ("https://updates.example.com").
	ServerURL string
	// TrustedRoot is the initial TUF root.json, shipped with the binary.
	TrustedRoot []byte
	// MinisignKey verifies artifact signatures.
	MinisignKey *minisign.PublicKey
	// StateDir holds the TUF cache, staging files and health state.
	StateDir string
	// CurrentVersion is the running version.
	CurrentVersion string
	// MachineID and Tenant select rollout buckets and pins.
	MachineID, Tenant string
	// OS and Arch. Default: runtime.GOOS, runtime.GOARCH.
	OS, Arch string
	// BinaryPath is the installed binary to replace. Default: os.Executable().
	BinaryPath string
	// BinaryName is the file to extract from an archive. Default: base of BinaryPath.
	BinaryName string
	// SelfCheckArgs run the new binary; its output must contain the new
	// version. Default: ["version"].
	SelfCheckArgs []string
	// SelfCheckTimeout. Default: 30 s.
	SelfCheckTimeout time.Duration
	// TrialArgs, when set, run the new binary on trial before the swap
	// (see TrialEnv): the running binary keeps serving, and hands over
	// only when the new one reports healthy. Default: none (no trial).
	TrialArgs []string
	// TrialTimeout bounds a trial run; a trial still running is killed and
	// the version rejected. Default: 2 minutes.
	TrialTimeout time.Duration
	// HealthDeadline is how long a new version has to call ConfirmHealthy
	// after its first start (after the swap) before Startup rolls it
	// back. Default: 10 minutes.
	HealthDeadline time.Duration
	// AllowDowngrade accepts an older version than the running one (a pin).
	// Default: false (only a signed rollback may be older: the channel
	// head whose signed metadata revokes the running version).
	AllowDowngrade bool
	// Limits bound metadata and artifact sizes.
	Limits Limits
	// HTTPClient. Default: a client with a 10-minute timeout.
	HTTPClient *http.Client
	// Logger. Default: discard.
	Logger *slog.Logger
	// Now. Default: time.Now.
	Now func() time.Time
}

// Validate checks required fields and fills defaults.
func (c *Config) Validate() error {
	var missing []string
	for name, v := range map[string]string{"Product": c.Product, "Channel": c.Channel, "ServerURL": c.ServerURL,
		"StateDir": c.StateDir, "CurrentVersion": c.CurrentVersion} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(c.TrustedRoot) == 0 {
		missing = append(missing, "TrustedRoot")
	}
	if c.MinisignKey == nil {
		missing = append(missing, "MinisignKey")
	}
	if len(missing) > 0 {
		return fmt.Errorf("update client: missing %s", strings.Join(missing, ", "))
	}
	if _, err := semver.Parse(c.CurrentVersion); err != nil {
		return fmt.Errorf("update client: current version: %w", err)
	}
	c.ServerURL = strings.TrimSuffix(c.ServerURL, "/")
	if c.OS == "" {
		c.OS = runtime.GOOS
	}
	if c.Arch == "" {
		c.Arch = runtime.GOARCH
	}
	if c.BinaryPath == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		c.BinaryPath = exe
	}
	if c.BinaryName == "" {
		c.BinaryName = filepath.Base(c.BinaryPath)
	}
	if len(c.SelfCheckArgs) == 0 {
		c.SelfCheckArgs = []string{"version"}
	}
	if c.SelfCheckTimeout <= 0 {
		c.SelfCheckTimeout = 30 * time.Second
	}
	if c.TrialTimeout <= 0 {
		c.TrialTimeout = 2 * time.Minute
	}
	if c.HealthDeadline <= 0 {
		c.HealthDeadline = 10 * time.Minute
	}
	c.Limits.defaults()
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Minute}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Client updates one installed binary.
type Client struct {
	cfg  Config
	http *http.Client
}

// New validates cfg and returns a client.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, http: cfg.HTTPClient}, nil
}

// Offer is the server's answer (/v1/updates) once checked against TUF.
type Offer struct {
	Version    string            `json:"version"`
	Target     string            `json:"target"`
	URL        string            `json:"url"`
	Size       int64             `json:"size"`
	SHA256     string            `json:"sha256"`
	Signatures map[string]string `json:"signatures"`
	Notes      string            `json:"notes"`
	Force      bool              `json:"force"`
	Pinned     bool              `json:"pinned"`
	Rollback   bool              `json:"rollback"`

	// Set by Check from the signed TUF target.
	length       int64
	hashes       map[string][]byte
	format       string
	keys         []string // announced release keys (signed)
	endorsements []string
}

// maxOfferSize bounds the update-check response.
const maxOfferSize = 256 << 10

// Check asks the server for an update and resolves it through TUF. It
// returns nil, nil when there is nothing to do. TUF is refreshed on every
// check, "no update" included (see verifyAnswer).
func (c *Client) Check(ctx context.Context) (*Offer, error) {
	offer, announced, err := c.ask(ctx)
	if err != nil {
		return nil, err
	}
	up, err := c.verifyAnswer(ctx, announced)
	if err != nil || offer == nil {
		return nil, err
	}
	tf, err := up.GetTargetInfo(offer.Target)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not a signed target: %w", ErrWrongTarget, offer.Target, err)
	}
	custom, err := customOf(tf)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWrongTarget, err)
	}
	if custom.Product != c.cfg.Product || !archMatches(custom.OS, custom.Arch, c.cfg.OS, c.cfg.Arch) || custom.Version != offer.Version {
		return nil, fmt.Errorf("%w: %s is %s %s %s/%s, want %s %s/%s", ErrWrongTarget, offer.Target,
			custom.Product, custom.Version, custom.OS, custom.Arch, c.cfg.Product, c.cfg.OS, c.cfg.Arch)
	}
	if err := c.checkVersion(offer.Version, custom); err != nil {
		return nil, err
	}
	offer.length, offer.format = tf.Length, custom.Format
	offer.keys, offer.endorsements = custom.Keys, custom.Endorsements
	offer.hashes = map[string][]byte{}
	for alg, h := range tf.Hashes {
		offer.hashes[alg] = h
	}
	if offer.length > c.cfg.Limits.Artifact {
		return nil, fmt.Errorf("%w: artifact is %d bytes, limit %d", ErrTooLarge, offer.length, c.cfg.Limits.Artifact)
	}
	return offer, nil
}

// checkVersion refuses an older version than the running one unless the
// signed target says this channel currently serves it and revoked the
// running version (a deliberate `slipway rollback`), or downgrades are
// allowed. A channel head older than the running version without that
// signed revocation is refused: a downgrade is never implied.
func (c *Client) checkVersion(v string, custom targetCustom) error {
	nv, err := semver.Parse(v)
	if err != nil {
		return fmt.Errorf("%w: version %q: %w", ErrWrongTarget, v, err)
	}
	cur := semver.MustParse(c.cfg.CurrentVersion)
	switch cmp := semver.Compare(nv, cur); {
	case cmp > 0:
		return nil
	case cmp == 0:
		return fmt.Errorf("%w: %s is already installed", ErrRollback, v)
	}
	if ch, head := custom.Channels[c.cfg.Channel]; head && slices.Contains(ch.Revoked, c.cfg.CurrentVersion) {
		return nil
	}
	if c.cfg.AllowDowngrade {
		return nil
	}
	return fmt.Errorf("%w: offered %s, running %s, which the signed channel metadata does not revoke", ErrRollback, v, c.cfg.CurrentVersion)
}

// ask returns the server's offer (nil for 204) and the TUF timestamp
// version the answer says it was decided on (0 when not said).
func (c *Client) ask(ctx context.Context) (*Offer, int64, error) {
	q := url.Values{"os": {c.cfg.OS}, "arch": {c.cfg.Arch}, "current": {c.cfg.CurrentVersion}}
	if c.cfg.MachineID != "" {
		q.Set("machine", c.cfg.MachineID)
	}
	if c.cfg.Tenant != "" {
		q.Set("tenant", c.cfg.Tenant)
	}
	u := c.cfg.ServerURL + "/v1/updates/" + url.PathEscape(c.cfg.Product) + "/" + url.PathEscape(c.cfg.Channel) + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrServer, err)
	}
	defer resp.Body.Close()
	announced, err := announcedTimestamp(resp.Header)
	if err != nil {
		return nil, 0, err
	}
	switch resp.StatusCode {
	case http.StatusNoContent:
		return nil, announced, nil
	case http.StatusOK:
	default:
		return nil, 0, fmt.Errorf("%w: update check: HTTP %d", ErrServer, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxOfferSize+1))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrServer, err)
	}
	if len(data) > maxOfferSize {
		return nil, 0, fmt.Errorf("%w: update check response over %d bytes", ErrTooLarge, maxOfferSize)
	}
	var o Offer
	if err := json.Unmarshal(data, &o); err != nil {
		return nil, 0, fmt.Errorf("%w: update check: %w", ErrServer, err)
	}
	if o.Target == "" || o.URL == "" || o.Version == "" {
		return nil, 0, fmt.Errorf("%w: update check: incomplete answer", ErrServer)
	}
	return &o, announced, nil
}

// Result describes a completed update.
type Result struct {
	From, To string
	// Previous is where the replaced binary was kept.
	Previous string
}

// Update runs the whole update once: Check, Download, Install. It returns
// nil, nil when there is nothing to do, including when the offered version
// was rejected on this machine before (see Rejected). On any error the
// installed binary is unchanged and keeps running.
func (c *Client) Update(ctx context.Context) (*Result, error) {
	offer, err := c.Check(ctx)
	if err != nil || offer == nil {
		return nil, err
	}
	if isRejected(c.cfg.StateDir, offer.Version) {
		c.cfg.Logger.DebugContext(ctx, "offered version failed here before; not installing it again",
			"product", c.cfg.Product, "version", offer.Version)
		return nil, nil
	}
	staged, err := c.Download(ctx, offer)
	if err != nil {
		return nil, err
	}
	return c.Install(ctx, offer, staged)
}

// Run polls for updates every interval (with up to 10 % jitter, and a
// random first delay) until ctx ends or an update is installed. Each
// check's outcome goes to report (which may be nil): its error, or nil
// when the check succeeded with nothing to install. Errors are logged;
// they never stop the loop, so an expired or attacked repository leaves
// the running version in service.
func (c *Client) Run(ctx context.Context, interval time.Duration, report func(error)) (*Result, error) {
	if interval <= 0 {
		return nil, fmt.Errorf("update client: poll interval %v must be positive", interval)
	}
	wait := time.Duration(rand.Int64N(int64(interval)))
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		res, err := c.Update(ctx)
		if err != nil {
			c.cfg.Logger.WarnContext(ctx, "update failed; keeping the running version", "product", c.cfg.Product,
				"channel", c.cfg.Channel, "version", c.cfg.CurrentVersion, "err", err)
		}
		if report != nil && res == nil {
			report(err)
		}
		if res != nil {
			return res, nil
		}
		wait = interval + time.Duration(rand.Int64N(int64(interval)/10+1))
	}
}

// archMatches reports whether an artifact of os/arch runs on goos/goarch
// (darwin "universal" runs on both). It mirrors catalog.ArchMatches without
// importing catalog: catalog pulls in the release pipeline (cosign, S3),
// which more than doubles the agent's binary size and resident memory.
func archMatches(os, arch, goos, goarch string) bool {
	if os != goos {
		return false
	}
	if os == "darwin" && arch == "universal" {
		return goarch == "amd64" || goarch == "arm64"
	}
	return arch == goarch
}
