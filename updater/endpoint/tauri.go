package endpoint

import (
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/updater/catalog"
	"github.com/slipwayhq/slipway/updater/semver"
	"github.com/slipwayhq/slipway/updater/tauri"
)

// MachineHeader optionally carries a machine id on Tauri requests (an app
// adds it with UpdaterBuilder::header); without it only complete
// rollouts reach Tauri apps.
const MachineHeader = "X-Slipway-Machine"

// RollbackHeader ("X-Slipway-Allow-Rollback: 1") is sent by a Tauri app
// whose version comparator accepts a downgrade: only then does the
// dynamic endpoint announce a rollback (an older version) to an app
// running a revoked version. Tauri's default comparator installs only
// newer versions, so announcing it to other apps would do nothing.
const RollbackHeader = "X-Slipway-Allow-Rollback"

// tauriDynamic answers GET /tauri/{product}/{channel}/{target}/{arch}/{current}[/{bundle}]
// exactly as Tauri's updater expects: 204 when there is nothing newer,
// otherwise {version, notes, pub_date, url, signature}.
func (h *Handler) tauriDynamic(w http.ResponseWriter, r *http.Request) {
	product, chName := chi.URLParam(r, "product"), chi.URLParam(r, "channel")
	goos, goarch, ok := tauri.GoPlatform(chi.URLParam(r, "target"), chi.URLParam(r, "arch"))
	if !ok {
		httpError(w, http.StatusNotFound, "unknown target or arch")
		return
	}
	bundle := chi.URLParam(r, "bundle")
	if bundle == "unknown" {
		bundle = ""
	}
	if bundle != "" && !tauri.IsBundle(goos, bundle) {
		httpError(w, http.StatusNotFound, "unknown bundle type")
		return
	}
	rawCur, err := url.PathUnescape(chi.URLParam(r, "current"))
	if err != nil || len(rawCur) > maxQueryValue {
		httpError(w, http.StatusBadRequest, "bad current version")
		return
	}
	cur, err := semver.ParseTauri(rawCur)
	if err != nil {
		httpError(w, http.StatusBadRequest, "current version is not SemVer")
		return
	}
	m := Machine{ID: r.Header.Get(MachineHeader), Current: cur.String()}
	if len(m.ID) > maxQueryValue {
		m.ID = ""
	}
	if h.opts.Identify != nil {
		if id, tenant, ok := h.opts.Identify(r); ok {
			m.ID, m.Tenant = id, tenant
		}
	}
	s := h.snap.Load()
	ch, ok := s.state.Products[product][chName]
	if !ok {
		httpError(w, http.StatusNotFound, "unknown product or channel")
		return
	}
	ch = h.limit(product, chName, ch)
	d, ok := Decide(ch, product, m)
	// Tauri installs only newer versions by default: never announce a pin
	// downgrade, and a rollback only to an app that says it accepts it.
	rollback := d.Rollback && r.Header.Get(RollbackHeader) == "1"
	if !ok || (!rollback && !semver.Less(cur.String(), d.Version)) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	ri := s.releases[product][d.Version]
	var a *artifact
	if ri != nil {
		a = ri.artifactFor(goos, goarch, bundle, tauri.Bundles[goos], true)
	}
	if a == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	u, err := h.artifactURL(r.Context(), r, product, d.Version, a.Name, a.key)
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, "download URL unavailable")
		return
	}
	body := tauri.Dynamic{Version: d.Version, PubDate: tauri.PubDate(ri.rec.Date), URL: u, Signature: a.tauriSig}
	if d.Version == ch.Version {
		body.Notes = ch.Notes
	}
	writeJSON(w, r, body)
}

// tauriStatic answers GET /tauri/{product}/{channel}/latest.json: the
// version every machine may run (the channel version at 100 % rollout,
// else the previous one), with one entry per Tauri bundle under its
// {os}-{arch}-{bundle} key and, under {os}-{arch}, the artifact the dynamic
// endpoint would serve that platform.
func (h *Handler) tauriStatic(w http.ResponseWriter, r *http.Request) {
	product, chName := chi.URLParam(r, "product"), chi.URLParam(r, "channel")
	s := h.snap.Load()
	ch, ok := s.state.Products[product][chName]
	if !ok {
		httpError(w, http.StatusNotFound, "unknown product or channel")
		return
	}
	ch = h.limit(product, chName, ch)
	version := ch.Version
	if ch.Rollout < 100 {
		version = ch.Previous
	}
	ri := s.releases[product][version]
	if ch.Paused || version == "" || ri == nil {
		httpError(w, http.StatusNotFound, "no fully rolled out version on this channel")
		return
	}
	m := tauri.Static{Version: version, PubDate: tauri.PubDate(ri.rec.Date), Platforms: map[string]tauri.Platform{}}
	if version == ch.Version {
		m.Notes = ch.Notes
	}
	for _, a := range ri.artifacts {
		if a.tauriSig == "" || tauri.Bundles[a.OS] == nil {
			continue
		}
		bundle := tauri.IsBundle(a.OS, a.Format)
		u, err := h.artifactURL(r.Context(), r, product, version, a.Name, a.key)
		if err != nil {
			httpError(w, http.StatusServiceUnavailable, "download URL unavailable")
			return
		}
		p := tauri.Platform{URL: u, Signature: a.tauriSig}
		// A universal macOS build is listed under both architectures, as
		// tauri-action does (the plugin never looks up darwin-universal).
		for _, goarch := range catalog.Archs(a.OS, a.Arch) {
			arch := tauri.Arch(goarch)
			if arch == "" {
				continue
			}
			base := a.OS + "-" + arch
			if bundle {
				m.Platforms[base+"-"+a.Format] = p
			}
			// The plain key carries what the dynamic endpoint serves the
			// platform, a Tauri bundle or else any signed archive (such as
			// Slipway's own desktop client).
			if pref := ri.artifactFor(a.OS, goarch, "", tauri.Bundles[a.OS], true); pref == a {
				m.Platforms[base] = p
			}
		}
	}
	if len(m.Platforms) == 0 {
		httpError(w, http.StatusNotFound, "no Tauri bundles in this release")
		return
	}
	writeJSON(w, r, m)
}
