package server

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/token"
)

type machineList struct {
	Items      []machineView `json:"items"`
	NextCursor string        `json:"nextCursor,omitempty"`
}

// listFilter reads and checks the list query parameters.
func (s *Server) listFilter(r *http.Request, now time.Time) (store.MachineFilter, error) {
	q := r.URL.Query()
	f := store.MachineFilter{TenantID: q.Get("tenant"), OSName: q.Get("os"), AgentVersion: q.Get("agentVersion"),
		Query: q.Get("q"), Limit: 50}
	for name, v := range map[string]string{"tenant": f.TenantID, "os": f.OSName, "agentVersion": f.AgentVersion, "q": f.Query} {
		if err := text(name, v, false, 128); err != nil {
			return f, err
		}
	}
	if scope := adminScope(r.Context()); scope != "" {
		if f.TenantID != "" && f.TenantID != scope {
			return f, errForbidden
		}
		f.TenantID = scope
	}
	switch q.Get("status") {
	case "":
	case StatusOnline:
		f.SeenAfter = now.Add(-s.cfg.StaleAfter)
	case StatusStale:
		f.SeenAfter, f.SeenBefore = now.Add(-s.cfg.OfflineAfter), now.Add(-s.cfg.StaleAfter)
	case StatusOffline:
		f.SeenBefore = now.Add(-s.cfg.OfflineAfter)
	default:
		return f, badRequest("status", "must be online, stale or offline")
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return f, badRequest("limit", "must be an integer from 1 to 500")
		}
		f.Limit = n
	}
	if c := q.Get("cursor"); c != "" {
		id, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || len(id) == 0 || len(id) > 128 {
			return f, badRequest("cursor", "invalid cursor")
		}
		f.After = string(id)
	}
	return f, nil
}

func (s *Server) handleListMachines(w http.ResponseWriter, r *http.Request) error {
	now := s.now()
	f, err := s.listFilter(r, now)
	if err != nil {
		return err
	}
	want := f.Limit
	f.Limit++ // one extra tells whether there is a next page
	ms, err := s.st.ListMachines(r.Context(), f)
	if err != nil {
		return err
	}
	out := machineList{Items: []machineView{}}
	if len(ms) > want {
		ms = ms[:want]
		out.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(ms[want-1].ID))
	}
	for _, m := range ms {
		out.Items = append(out.Items, s.view(m, now, false))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// adminMachine loads the path's machine, within the admin token's scope.
func (s *Server) adminMachine(r *http.Request) (store.Machine, error) {
	id := chi.URLParam(r, "machineID")
	if len(id) > 128 {
		return store.Machine{}, errNotFound
	}
	m, err := s.st.GetMachine(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return m, errNotFound
	}
	if err != nil {
		return m, err
	}
	if scope := adminScope(r.Context()); scope != "" && scope != m.TenantID {
		return store.Machine{}, errNotFound
	}
	return m, nil
}

type metricSample struct {
	At      time.Time `json:"at"`
	Status  string    `json:"status"`
	Version string    `json:"agentVersion,omitempty"`
	Metrics any       `json:"metrics"`
}

type machineDetail struct {
	machineView
	RecentHeartbeats []metricSample `json:"recentHeartbeats"`
}

func (s *Server) handleGetMachine(w http.ResponseWriter, r *http.Request) error {
	m, err := s.adminMachine(r)
	if err != nil {
		return err
	}
	hbs, err := s.st.ListHeartbeats(r.Context(), m.ID, 20)
	if err != nil {
		return err
	}
	d := machineDetail{machineView: s.view(m, s.now(), true), RecentHeartbeats: []metricSample{}}
	for _, h := range hbs {
		var metrics any = h.Metrics
		if len(h.Metrics) == 0 {
			metrics = nil
		}
		d.RecentHeartbeats = append(d.RecentHeartbeats, metricSample{At: h.At, Status: h.Status, Version: h.AgentVersion, Metrics: metrics})
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) handleDeleteMachine(w http.ResponseWriter, r *http.Request) error {
	if err := decodeOptional(w, r, s.cfg.MaxBodyBytes, &emptyRequest{}); err != nil {
		return err
	}
	m, err := s.adminMachine(r)
	if err != nil {
		return err
	}
	err = s.st.DeleteMachine(r.Context(), m.ID)
	if errors.Is(err, store.ErrNotFound) {
		err = nil // deleted meanwhile: the result the admin asked for
	}
	s.audit(r, store.AuditDeleteMachine, m.TenantID, m.ID, map[string]any{"hostname": m.Hostname}, err)
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "machine deleted", "machine_id", m.ID, "tenant_id", m.TenantID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleRevokeToken(w http.ResponseWriter, r *http.Request) error {
	if err := decodeOptional(w, r, s.cfg.MaxBodyBytes, &emptyRequest{}); err != nil {
		return err
	}
	m, err := s.adminMachine(r)
	if err != nil {
		return err
	}
	n, err := s.st.RevokeTokens(r.Context(), m.ID, s.now())
	s.audit(r, store.AuditRevokeToken, m.TenantID, m.ID, map[string]any{"tokens": n}, err)
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "machine token revoked", "machine_id", m.ID, "tokens", n)
	writeJSON(w, http.StatusOK, map[string]int{"revoked": n})
	return nil
}

type rotateResponse struct {
	MachineID    string    `json:"machineId"`
	MachineToken string    `json:"machineToken"`
	ExpiresAt    time.Time `json:"expiresAt"`
}

func (s *Server) handleRotateToken(w http.ResponseWriter, r *http.Request) error {
	if err := decodeOptional(w, r, s.cfg.MaxBodyBytes, &emptyRequest{}); err != nil {
		return err
	}
	m, err := s.adminMachine(r)
	if err != nil {
		return err
	}
	value, hash := token.New(token.Machine)
	now := s.now().UTC()
	tok := store.Token{Hash: hash, MachineID: m.ID, TenantID: m.TenantID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.TokenTTL)}
	err = s.st.ReplaceToken(r.Context(), tok)
	s.audit(r, store.AuditRotateToken, m.TenantID, m.ID, nil, err)
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "machine token rotated", "machine_id", m.ID)
	writeJSON(w, http.StatusOK, rotateResponse{MachineID: m.ID, MachineToken: value, ExpiresAt: tok.ExpiresAt})
	return nil
}
