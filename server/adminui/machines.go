package adminui

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/slipwayhq/slipway/server/store"
)

// pageSize is the machines table's page size.
const pageSize = 50

// Machine status names, as in the admin API.
const (
	statusOnline  = "online"
	statusStale   = "stale"
	statusOffline = "offline"
)

// row is one machine in the table and in live updates.
type row struct {
	ID           string `json:"id"`
	Hostname     string `json:"hostname"`
	Tenant       string `json:"tenant"`
	OS           string `json:"os"`
	AgentVersion string `json:"agentVersion"`
	Status       string `json:"status"`
	LastSeen     string `json:"lastSeen"`
}

type filters struct {
	Tenant, Status, OS, AgentVersion, Q, Cursor string
}

func (f filters) query(cursor string) string {
	v := url.Values{}
	for k, s := range map[string]string{"tenant": f.Tenant, "status": f.Status, "os": f.OS, "agentVersion": f.AgentVersion, "q": f.Q, "cursor": cursor} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v.Encode()
}

// filter reads the same query parameters as GET /api/admin/machines.
func (u *UI) filter(r *http.Request, now time.Time) (store.MachineFilter, filters, error) {
	q := r.URL.Query()
	ff := filters{Tenant: q.Get("tenant"), Status: q.Get("status"), OS: q.Get("os"), AgentVersion: q.Get("agentVersion"),
		Q: q.Get("q"), Cursor: q.Get("cursor")}
	for _, v := range []string{ff.Tenant, ff.OS, ff.AgentVersion, ff.Q, ff.Cursor} {
		if len(v) > 128 {
			return store.MachineFilter{}, ff, badRequest("filter values are limited to 128 characters")
		}
	}
	f := store.MachineFilter{TenantID: ff.Tenant, OSName: ff.OS, AgentVersion: ff.AgentVersion, Query: ff.Q, Limit: pageSize + 1}
	if s, _ := sessionFrom(r.Context()); s.Tenant != "" {
		if f.TenantID != "" && f.TenantID != s.Tenant {
			return f, ff, &httpError{http.StatusForbidden, "your admin token is limited to tenant " + s.Tenant}
		}
		f.TenantID = s.Tenant
	}
	switch ff.Status {
	case "":
	case statusOnline:
		f.SeenAfter = now.Add(-u.opts.StaleAfter)
	case statusStale:
		f.SeenAfter, f.SeenBefore = now.Add(-u.opts.OfflineAfter), now.Add(-u.opts.StaleAfter)
	case statusOffline:
		f.SeenBefore = now.Add(-u.opts.OfflineAfter)
	default:
		return f, ff, badRequest("status must be online, stale or offline")
	}
	if ff.Cursor != "" {
		id, err := base64.RawURLEncoding.DecodeString(ff.Cursor)
		if err != nil || len(id) == 0 {
			return f, ff, badRequest("invalid cursor")
		}
		f.After = string(id)
	}
	return f, ff, nil
}

func (u *UI) status(m store.Machine, now time.Time) string {
	switch {
	case !m.LastSeenAt.IsZero() && m.LastSeenAt.After(now.Add(-u.opts.StaleAfter)):
		return statusOnline
	case !m.LastSeenAt.IsZero() && m.LastSeenAt.After(now.Add(-u.opts.OfflineAfter)):
		return statusStale
	}
	return statusOffline
}

// counts are the numbers above the table. When the table shows every
// matching machine (one page), they are counted from those rows, so they
// always agree with what is shown (cached fleet aggregates lag behind
// machines that just registered). Over several pages they are the
// tenant's (or fleet's) cached aggregates, never fewer than a full page.
func (u *UI) counts(ctx context.Context, f store.MachineFilter, ms []store.Machine, now time.Time) (*store.FleetStats, error) {
	if f.After == "" && len(ms) <= pageSize {
		st := &store.FleetStats{Machines: int64(len(ms))}
		for _, m := range ms {
			switch u.status(m, now) {
			case statusOnline:
				st.Online++
			case statusStale:
				st.Stale++
			default:
				st.Offline++
			}
		}
		return st, nil
	}
	st, err := u.fleetStats(ctx, f.TenantID, false, now)
	if err != nil || st == nil || st.Machines >= int64(len(ms)) {
		return st, err
	}
	u.cache.mu.Lock()
	clear(u.cache.entries) // behind what the table shows: recompute
	u.cache.mu.Unlock()
	return u.fleetStats(ctx, f.TenantID, false, now)
}

func (u *UI) rowOf(m store.Machine, now time.Time) row {
	return row{ID: m.ID, Hostname: m.Hostname, Tenant: m.TenantID, OS: m.OS.Name + " " + m.OS.Version,
		AgentVersion: m.AgentVersion, Status: u.status(m, now), LastSeen: ago(m.LastSeenAt, now)}
}

type machinesData struct {
	Rows     []row
	Filters  filters
	Next     string // query string of the next page, "" on the last
	Stats    *store.FleetStats
	LiveURL  string
	Interval int // ms
}

// machinesPage renders one page of the table; its cost does not grow with
// the fleet beyond the stats aggregate (keyset pagination).
func (u *UI) machinesPage(w http.ResponseWriter, r *http.Request) {
	now := u.opts.Now()
	f, ff, err := u.filter(r, now)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	ms, err := u.st.ListMachines(r.Context(), f)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	d := machinesData{Filters: ff, Interval: int(u.opts.LiveInterval / time.Millisecond)}
	if len(ms) > pageSize {
		ms = ms[:pageSize]
		d.Next = ff.query(base64.RawURLEncoding.EncodeToString([]byte(ms[pageSize-1].ID)))
	}
	for _, m := range ms {
		d.Rows = append(d.Rows, u.rowOf(m, now))
	}
	if d.Stats, err = u.counts(r.Context(), f, ms, now); err != nil {
		u.fail(w, r, err)
		return
	}
	live := url.Values{"since": {v7Floor(now)}}
	d.LiveURL = "/admin/events?" + ff.query(ff.Cursor) + "&" + live.Encode()
	u.render(w, r, "machines", http.StatusOK, page{Title: "Machines", Nav: "machines", Data: d})
}

// liveUpdate is one Server-Sent Event: the current page's rows, machines
// registered since the page was opened, and the fleet counts.
type liveUpdate struct {
	Rows   []row             `json:"rows"`
	Fresh  []row             `json:"fresh"` // matching machines registered since the page was opened
	Counts *store.FleetStats `json:"counts,omitempty"`
}

// events streams live updates of the table as Server-Sent Events.
func (u *UI) events(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	if _, _, err := u.filter(r, u.opts.Now()); err != nil {
		u.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	rc := http.NewResponseController(w)
	t := time.NewTicker(u.opts.LiveInterval)
	defer t.Stop()
	for {
		_ = rc.SetWriteDeadline(time.Now().Add(u.opts.LiveInterval + 10*time.Second))
		if err := u.sendUpdate(w, r); err != nil {
			return
		}
		flusher.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
	}
}

func (u *UI) sendUpdate(w http.ResponseWriter, r *http.Request) error {
	now := u.opts.Now()
	f, _, _ := u.filter(r, now)
	ms, err := u.st.ListMachines(r.Context(), f)
	if err != nil {
		return err
	}
	up := liveUpdate{Rows: []row{}}
	for i, m := range ms {
		if i < pageSize {
			up.Rows = append(up.Rows, u.rowOf(m, now))
		}
	}
	if up.Counts, err = u.counts(r.Context(), f, ms, now); err != nil {
		return err
	}
	// Machine IDs are UUIDv7, ordered by creation time: the machines after
	// the page's "since" ID registered after it was opened, wherever they
	// fall in the table's order.
	up.Fresh = []row{}
	if since := r.URL.Query().Get("since"); since != "" && len(since) <= 64 {
		f.After, f.Limit = since, 20
		fresh, err := u.st.ListMachines(r.Context(), f)
		if err != nil {
			return err
		}
		for _, m := range fresh {
			up.Fresh = append(up.Fresh, u.rowOf(m, now))
		}
	}
	data, err := json.Marshal(up)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "event: machines\ndata: %s\n\n", data)
	return err
}

type machineData struct {
	Row       row
	Machine   store.Machine
	Inventory string
	Chart     chart
	Beats     []store.Heartbeat
	Software  machineSoftware
}

func (u *UI) machineFor(r *http.Request) (store.Machine, error) {
	m, err := u.st.GetMachine(r.Context(), chi.URLParam(r, "machineID"))
	if err != nil {
		return m, err
	}
	if s, _ := sessionFrom(r.Context()); s.Tenant != "" && s.Tenant != m.TenantID {
		return m, store.ErrNotFound // do not reveal other tenants' machines
	}
	return m, nil
}

func (u *UI) machinePage(w http.ResponseWriter, r *http.Request) {
	m, err := u.machineFor(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	beats, err := u.st.ListHeartbeats(r.Context(), m.ID, 120)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	now := u.opts.Now()
	d := machineData{Row: u.rowOf(m, now), Machine: m, Inventory: prettyJSON(m.Inventory), Chart: metricsChart(beats), Beats: beats}
	if len(d.Beats) > 10 {
		d.Beats = d.Beats[:10]
	}
	if d.Software, err = u.softwareSection(r, m.ID); err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, "machine", http.StatusOK, page{Title: m.Hostname, Nav: "machines", Data: d})
}

func (u *UI) revokeMachine(w http.ResponseWriter, r *http.Request) {
	m, err := u.machineFor(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	n, err := u.st.RevokeTokens(r.Context(), m.ID, u.opts.Now().UTC())
	s, _ := sessionFrom(r.Context())
	u.audit(r.Context(), s, auditEvent{action: store.AuditRevokeToken, tenant: m.TenantID, target: m.ID, err: err,
		attrs: []any{"machine_id", m.ID, "tokens", n}})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/machines/"+url.PathEscape(m.ID), http.StatusSeeOther)
}

// v7Floor is the smallest UUIDv7 of the millisecond t: every machine
// registered from t on has a greater ID.
func v7Floor(t time.Time) string {
	var id uuid.UUID
	ms := uint64(t.UnixMilli())
	for i := range 6 {
		id[i] = byte(ms >> (40 - 8*i))
	}
	id[6], id[8] = 0x70, 0x80
	return id.String()
}

// ago renders a time relative to now ("never" for the zero time).
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return t.UTC().Format("2006-01-02")
}

func prettyJSON(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	var b bytes.Buffer
	if json.Indent(&b, raw, "", "  ") != nil {
		return string(raw)
	}
	return b.String()
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
