package endpoint

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

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
}

// maxQueryValue bounds each query parameter.
const maxQueryValue = 256

// checkRequest is a validated native update check.
type checkRequest struct {
	product, channel, os, arch string
	machine                    Machine
}

func (c *checkRequest) parse(r *http.Request) error {
	q := r.URL.Query()
	c.product, c.channel = chi.URLParam(r, "product"), chi.URLParam(r, "channel")
	c.os, c.arch = q.Get("os"), q.Get("arch")
	c.machine = Machine{ID: q.Get("machine"), Tenant: q.Get("tenant"), Current: q.Get("current")}
	for _, v := range []string{c.os, c.arch, c.machine.ID, c.machine.Tenant, c.machine.Current} {
		if len(v) > maxQueryValue {
			return errors.New("query value too long")
		}
	}
	if c.os == "" || c.arch == "" {
		return errors.New("os and arch are required")
	}
	if c.machine.Current != "" {
		if _, err := semver.Parse(strings.TrimPrefix(c.machine.Current, "v")); err != nil {
			return fmt.Errorf("current: %w", err)
		}
		c.machine.Current = strings.TrimPrefix(c.machine.Current, "v")
	}
	return nil
}

// native answers GET /v1/updates/{product}/{channel}?os=&arch=&current=&machine=[&tenant=].
func (h *Handler) native(w http.ResponseWriter, r *http.Request) {
	var req checkRequest
	if err := req.parse(r); err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	s := h.snap.Load()
	ch, ok := s.state.Products[req.product][req.channel]
	if !ok {
		httpError(w, http.StatusNotFound, "unknown product or channel")
		return
	}
	d, ok := Decide(ch, req.product, req.machine)
	if !ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	ri := s.releases[req.product][d.Version]
	if ri == nil {
		httpError(w, http.StatusServiceUnavailable, "release metadata not loaded")
		return
	}
	a := ri.artifactFor(req.os, req.arch, "", []string{"tar.gz", "zip"}, false)
	if a == nil {
		w.WriteHeader(http.StatusNoContent) // nothing built for this platform
		return
	}
	u, err := h.artifactURL(r.Context(), r, req.product, d.Version, a.Name, a.key)
	if err != nil {
		h.opts.Logger.ErrorContext(r.Context(), "artifact url", "product", req.product, "version", d.Version, "err", err)
		httpError(w, http.StatusServiceUnavailable, "download URL unavailable")
		return
	}
	up := Update{Product: req.product, Channel: req.channel, Version: d.Version, Target: a.target, URL: u,
		Size: a.Size, SHA256: a.SHA256, Signatures: map[string]string{}, Notes: ch.Notes,
		PubDate: tauri.PubDate(ri.rec.Date), Force: d.Force, Pinned: d.Pinned}
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
	writeJSON(w, r, up)
}

// writeJSON renders v with an ETag and answers If-None-Match with 304.
func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	body, err := tauri.Encode(v)
	if err != nil {
		httpError(w, http.StatusInternalServerError, "encode")
		return
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	hdr := w.Header()
	hdr.Set("ETag", etag)
	hdr.Set("Cache-Control", "no-cache")
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatch(match, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Type", "application/json")
	w.Write(body)
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

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	body, _ := tauri.Encode(map[string]string{"error": msg})
	w.Write(body)
}
