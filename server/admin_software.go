package server

import (
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/slipwayhq/slipway/server/pkgversion"
	"github.com/slipwayhq/slipway/server/store"
)

// Admin software endpoints: which machines have a title (with a version
// range), and one machine's software and its history.

type softwareHitView struct {
	MachineID string         `json:"machineId"`
	TenantID  string         `json:"tenantId"`
	Hostname  string         `json:"hostname"`
	Software  []softwareView `json:"software"`
}

type softwareSearchResponse struct {
	Query      string            `json:"query"`
	Items      []softwareHitView `json:"items"`
	NextCursor string            `json:"nextCursor,omitempty"`
}

// softwareSearch reads and checks the search parameters.
func softwareSearch(r *http.Request) (store.SoftwareSearch, pkgversion.Query, error) {
	q := r.URL.Query()
	pq, err := pkgversion.Parse(q.Get("q"))
	if err != nil {
		return store.SoftwareSearch{}, pq, badRequest("q", "%s (try: firefox < 128)", err.Error())
	}
	if err := text("q", q.Get("q"), true, pkgversion.MaxQuery); err != nil {
		return store.SoftwareSearch{}, pq, err
	}
	f := store.SoftwareSearch{TenantID: q.Get("tenant"), Name: pq.Name, Version: pq.Match, Limit: 50}
	if err := text("tenant", f.TenantID, false, 128); err != nil {
		return f, pq, err
	}
	if scope := adminScope(r.Context()); scope != "" {
		if f.TenantID != "" && f.TenantID != scope {
			return f, pq, errForbidden
		}
		f.TenantID = scope
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return f, pq, badRequest("limit", "must be an integer from 1 to 500")
		}
		f.Limit = n
	}
	if c := q.Get("cursor"); c != "" {
		id, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || len(id) == 0 || len(id) > 128 {
			return f, pq, badRequest("cursor", "invalid cursor")
		}
		f.After = string(id)
	}
	return f, pq, nil
}

func (s *Server) handleFindSoftware(w http.ResponseWriter, r *http.Request) error {
	f, pq, err := softwareSearch(r)
	if err != nil {
		return err
	}
	want := f.Limit
	f.Limit++ // one extra tells whether there is a next page
	hits, err := s.st.FindSoftware(r.Context(), f)
	if errors.Is(err, store.ErrInvalid) {
		return badRequest("q", "too many versions match; narrow the range")
	}
	if err != nil {
		return err
	}
	out := softwareSearchResponse{Query: pq.Name, Items: []softwareHitView{}}
	for _, c := range pq.Constraints {
		out.Query += " " + c.String()
	}
	if len(hits) > want {
		hits = hits[:want]
		out.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(hits[want-1].MachineID))
	}
	for _, h := range hits {
		out.Items = append(out.Items, softwareHitView{MachineID: h.MachineID, TenantID: h.TenantID,
			Hostname: h.Hostname, Software: viewSoftware(h.Software)})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type machineSoftwareResponse struct {
	MachineID string         `json:"machineId"`
	Total     int            `json:"total"`
	Items     []softwareView `json:"items"`
}

// SoftwareFilter reads the machine software page's filter and order
// (q, sort, order); the admin page uses it too.
func SoftwareFilter(r *http.Request) (q, sort string, desc bool, err error) {
	v := r.URL.Query()
	q, sort = v.Get("q"), v.Get("sort")
	if err := text("q", q, false, 128); err != nil {
		return "", "", false, err
	}
	if sort != "" && !slices.Contains(store.SoftwareSorts, sort) {
		return "", "", false, badRequest("sort", "must be one of name, version, source, installed")
	}
	switch v.Get("order") {
	case "", "asc":
	case "desc":
		desc = true
	default:
		return "", "", false, badRequest("order", "must be asc or desc")
	}
	return q, sort, desc, nil
}

func (s *Server) handleMachineSoftware(w http.ResponseWriter, r *http.Request) error {
	q, sort, desc, err := SoftwareFilter(r)
	if err != nil {
		return err
	}
	m, err := s.adminMachine(r)
	if err != nil {
		return err
	}
	list, err := s.st.ListMachineSoftware(r.Context(), m.ID)
	if err != nil {
		return err
	}
	list = store.FilterSoftware(list, q, sort, desc, pkgversion.Compare)
	writeJSON(w, http.StatusOK, machineSoftwareResponse{MachineID: m.ID, Total: len(list), Items: viewSoftware(list)})
	return nil
}

type softwareChangeView struct {
	At      time.Time `json:"at"`
	Change  string    `json:"change"`
	Name    string    `json:"name"`
	Version string    `json:"version"`
	Source  string    `json:"source"`
}

func (s *Server) handleSoftwareHistory(w http.ResponseWriter, r *http.Request) error {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return badRequest("limit", "must be an integer from 1 to 1000")
		}
		limit = n
	}
	m, err := s.adminMachine(r)
	if err != nil {
		return err
	}
	hist, err := s.st.ListSoftwareHistory(r.Context(), m.ID, limit)
	if err != nil {
		return err
	}
	out := []softwareChangeView{}
	for _, h := range hist {
		out = append(out, softwareChangeView{At: h.At, Change: h.Change, Name: h.Software.Name,
			Version: h.Software.Version, Source: h.Software.Source})
	}
	writeJSON(w, http.StatusOK, map[string]any{"machineId": m.ID, "items": out})
	return nil
}
