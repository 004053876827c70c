package endpoint

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/updater/publish"
	"github.com/slipwayhq/slipway/updater/semver"
	"github.com/slipwayhq/slipway/updater/tauri"
)

// Update is the native update-check response body.
type Update struct {
	Product string `json:"product"`
	Channel string `json:"channel"`
	Version string `json:"version"`
	// Target is the TUF target path the client verifies the file against.
	Target string `json:"target"`
	URL    string `json:"url"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Signatures maps a kind to the signature itself: "minisign" is the
	// .minisig text; other kinds map to a URL of the signature file.
	Signatures map[string]string `json:"signatures"`
	Notes      string            `json:"notes,omitempty"`
	PubDate    string            `json:"pub_date,omitempty"`
	Force      bool              `json:"force,omitempty"`
	Pinned     bool              `json:"pinned,omitempty"`
	// Rollback marks the signed downgrade off a revoked version.
	Rollback bool `json:"rollback,omitempty"`
}

// maxQueryValue bounds each query parameter.
const maxQueryValue = 256

// checkRequest is a validated native update check.
type checkRequest struct {
	product, channel, os, arch string
	machine                    Machine
}

func (c *checkRequest) parse(r *http.Request) error {
	c.product, c.channel = chi.URLParam(r, "product"), chi.URLParam(r, "channel")
	if len(r.URL.RawQuery) > 4*maxQueryValue {
		return errors.New("query too long")
	}
	// A hand-rolled scan: url.ParseQuery's map costs more than the whole
	// update decision on this hot path.
	for rest := r.URL.RawQuery; rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		k, v, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(v, "%+") {
			var err error
			if v, err = url.QueryUnescape(v); err != nil {
				return fmt.Errorf("query %s: %w", k, err)
			}
		}
		if len(v) > maxQueryValue {
			return errors.New("query value too long")
		}
		switch k {
		case "os":
			c.os = v
		case "arch":
			c.arch = v
		case "machine":
			c.machine.ID = v
		case "tenant":
			c.machine.Tenant = v
		case "current":
			c.machine.Current = v
		}
	}
	if c.os == "" || c.arch == "" {
		return errors.New("os and arch are required")
	}
	if c.machine.Current != "" {
		c.machine.Current = strings.TrimPrefix(c.machine.Current, "v")
		if _, err := semver.Parse(c.machine.Current); err != nil {
			return fmt.Errorf("current: %w", err)
		}
	}
	return nil
}

// TimestampHeader carries the TUF timestamp version an update answer
// (200 or 204) was decided on.
const TimestampHeader = "Slipway-Tuf-Timestamp"

// native answers GET /v1/updates/{product}/{channel}?os=&arch=&current=&machine=[&tenant=].
func (h *Handler) native(w http.ResponseWriter, r *http.Request) {
	var req checkRequest
	if err := req.parse(r); err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	if h.opts.Identify != nil {
		if m, t, ok := h.opts.Identify(r); ok {
			req.machine.ID, req.machine.Tenant = m, t
		}
	}
	s := h.snap.Load()
	if s.timestamp > 0 {
		// The client refreshes TUF on every check, 204 included, and
		// refuses metadata older than what this answer was decided on.
		w.Header().Set(TimestampHeader, strconv.FormatInt(s.timestamp, 10))
	}
	ch, ok := s.state.Products[req.product][req.channel]
	if !ok {
		httpError(w, http.StatusNotFound, "unknown product or channel")
		return
	}
	ch = h.limit(req.product, req.channel, ch)
	d, ok := Decide(ch, req.product, req.machine)
	if !ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	cacheable := h.opts.Downloads != DownloadPresigned
	key := answerKey{req.product, req.channel, req.os, req.arch, d.Version, h.baseURL(r), d.Force, d.Pinned, d.Rollback}
	if cacheable {
		if b, ok := s.cache.Load(key); ok {
			b.(*body).write(w, r)
			return
		}
	}
	up, err := h.update(r, s, req, ch, d)
	if err != nil {
		h.opts.Logger.ErrorContext(r.Context(), "update answer", "product", req.product, "version", d.Version, "err", err)
		httpError(w, http.StatusServiceUnavailable, "update unavailable")
		return
	}
	if up == nil {
		w.WriteHeader(http.StatusNoContent) // nothing built for this platform
		return
	}
	b, err := newBody(up)
	if err != nil {
		httpError(w, http.StatusInternalServerError, "encode")
		return
	}
	if cacheable && s.cacheN.Add(1) <= maxCached {
		s.cache.Store(key, b)
	}
	b.write(w, r)
}

// answerKey identifies a cacheable update answer.
type answerKey struct {
	product, channel, os, arch, version, base string
	force, pinned, rollback                   bool
}

// maxCached bounds the per-snapshot answer cache (keys include the Host
// header when BaseURL is not configured).
const maxCached = 4096

// update builds the answer for a decision; nil when the release has no
// artifact for the platform.
func (h *Handler) update(r *http.Request, s *snapshot, req checkRequest, ch publish.Channel, d Decision) (*Update, error) {
	ri := s.releases[req.product][d.Version]
	if ri == nil {
		return nil, errors.New("release metadata not loaded")
	}
	a := ri.artifactFor(req.os, req.arch, "", []string{"tar.gz", "zip"}, false)
	if a == nil {
		return nil, nil
	}
	u, err := h.artifactURL(r.Context(), r, req.product, d.Version, a.Name, a.key)
	if err != nil {
		return nil, err
	}
	up := &Update{Product: req.product, Channel: req.channel, Version: d.Version, Target: a.target, URL: u,
		Size: a.Size, SHA256: a.SHA256, Signatures: map[string]string{}, Notes: ch.Notes,
		PubDate: tauri.PubDate(ri.rec.Date), Force: d.Force, Pinned: d.Pinned, Rollback: d.Rollback}
	if d.Version != ch.Version {
		up.Notes = ""
	}
	if a.minisig != "" {
		up.Signatures["minisign"] = a.minisig
	}
	for _, kind := range []string{"cosign", "sigstore"} {
		if f, ok := a.sigs[kind]; ok {
			up.Signatures[kind] = h.baseURL(r) + "/v1/download/" + req.product + "/" + d.Version + "/" + f
		}
	}
	return up, nil
}

// body is an encoded JSON answer with its ETag.
type body struct {
	data []byte
	etag []string
}

var (
	jsonType = []string{"application/json"}
	noCache  = []string{"no-cache"}
	nosniff  = []string{"nosniff"}
)

func newBody(v any) (*body, error) {
	data, err := tauri.Encode(v)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	return &body{data: data, etag: []string{`"` + hex.EncodeToString(sum[:12]) + `"`}}, nil
}

// write sends the body, or 304 when If-None-Match names its ETag.
func (b *body) write(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr["Etag"] = b.etag
	hdr["Cache-Control"] = noCache
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatch(match, b.etag[0]) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr["Content-Type"] = jsonType
	hdr["X-Content-Type-Options"] = nosniff
	w.Write(b.data)
}

// writeJSON renders v with an ETag and answers If-None-Match with 304.
func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	b, err := newBody(v)
	if err != nil {
		httpError(w, http.StatusInternalServerError, "encode")
		return
	}
	b.write(w, r)
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// errorCodes are the stable error codes of the update endpoints' statuses,
// the same words as the machine API's (server.Error).
var errorCodes = map[int]string{
	http.StatusBadRequest:          "invalid_request",
	http.StatusUnauthorized:        "unauthorized",
	http.StatusForbidden:           "forbidden",
	http.StatusNotFound:            "not_found",
	http.StatusTooManyRequests:     "rate_limited",
	http.StatusServiceUnavailable:  "unavailable",
	http.StatusInternalServerError: "internal",
}

// httpError writes every update-endpoint error in the API's one error
// shape, {"error": "<code>", "message": "<text>"} (docs/server.md).
func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	name, ok := errorCodes[code]
	if !ok {
		name = "error"
	}
	body, _ := tauri.Encode(struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}{name, msg})
	w.Write(body)
}
