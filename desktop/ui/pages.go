package ui

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/agent/enroll"
	"github.com/slipwayhq/slipway/agent/identity"
	"github.com/slipwayhq/slipway/agent/inventory"
	"github.com/slipwayhq/slipway/machineapi"
)

const (
	maxCodeLen   = 512
	maxServerLen = 2048
	apiTimeout   = 10 * time.Second
)

// page is what every template gets.
type page struct {
	Base    string // "/<secret>"
	CSRF    string
	Version string
	Error   string
}

type enrollPage struct {
	page
	Server string
	Report *inventory.Report
	MACs   []string
}

type statusPage struct {
	page
	State      identity.State
	StorePath  string
	SharedWith string // "agent" when using the agent service's store
	Machine    *machineapi.Machine
	LastBeat   *time.Time
	Agent      string
	Update     *identity.UpdateStatus
	Desktop    *identity.UpdateStatus
}

type portalPage struct {
	page
	URL      string
	Redirect bool
}

func (s *Server) base() page {
	return page{Base: "/" + s.secret, CSRF: s.csrf, Version: s.opts.Version}
}

// active returns the first readable enrollment among the candidate stores.
// An agent store this user cannot read is skipped: the desktop then enrolls
// on its own as the "desktop" client, which leaves the agent's token valid.
func (s *Server) active() (identity.Store, identity.State, bool) {
	for _, d := range s.opts.Dirs {
		st := identity.Store{Dir: d}
		if state, err := st.Load(); err == nil {
			return st, state, true
		}
	}
	return identity.Store{}, identity.State{}, false
}

func (s *Server) handleHome(w http.ResponseWriter, r *http.Request) {
	store, st, ok := s.active()
	if !ok {
		s.renderEnroll(w, r, "", "", http.StatusOK)
		return
	}
	p := statusPage{page: s.base(), State: st, StorePath: store.Path(), Agent: st.AgentVersion, Update: st.Update}
	if store.Dir != s.opts.EnrollDir {
		p.SharedWith = "agent"
	}
	if !st.LastHeartbeatAt.IsZero() {
		t := st.LastHeartbeatAt
		p.LastBeat = &t
	}
	if s.opts.Updates != nil {
		p.Desktop = s.opts.Updates()
	}
	ctx, cancel := context.WithTimeout(r.Context(), apiTimeout)
	defer cancel()
	if c, err := machineapi.New(st.Server, s.opts.ClientOptions); err != nil {
		p.Error = err.Error()
	} else if m, err := c.Me(ctx, st.MachineToken); err != nil {
		p.Error = describe(err)
	} else {
		p.Machine = m
		if m.LastHeartbeatAt != nil {
			p.LastBeat = m.LastHeartbeatAt
		}
		if m.AgentVersion != "" {
			p.Agent = m.AgentVersion
		}
	}
	s.render(w, "status", http.StatusOK, p)
}

func (s *Server) handleEnrollPage(w http.ResponseWriter, r *http.Request) {
	s.renderEnroll(w, r, "", "", http.StatusOK)
}

func (s *Server) renderEnroll(w http.ResponseWriter, r *http.Request, server, msg string, code int) {
	ctx, cancel := context.WithTimeout(r.Context(), apiTimeout)
	defer cancel()
	rep := s.opts.Collector.Collect(ctx)
	if server == "" {
		server = s.opts.Server
		if _, st, ok := s.active(); ok {
			server = st.Server
		}
	}
	p := enrollPage{page: s.base(), Server: server, Report: rep, MACs: rep.MACAddresses()}
	p.Error = msg
	s.render(w, "enroll", code, p)
}

func (s *Server) handleEnroll(w http.ResponseWriter, r *http.Request) {
	server := strings.TrimSpace(r.PostForm.Get("server"))
	code := strings.TrimSpace(r.PostForm.Get("code"))
	switch {
	case len(server) > maxServerLen || len(code) > maxCodeLen:
		s.renderEnroll(w, r, "", "Server URL or code is too long.", http.StatusBadRequest)
		return
	case code == "":
		s.renderEnroll(w, r, server, "Enter the provisioning code.", http.StatusBadRequest)
		return
	}
	if _, err := machineapi.ParseServerURL(server); err != nil {
		s.renderEnroll(w, r, server, "Server URL: "+err.Error(), http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), apiTimeout)
	defer cancel()
	// As "desktop", so the server keeps the agent service's token (in a
	// store this user may not read) valid instead of replacing it.
	e := enroll.New(identity.Store{Dir: s.opts.EnrollDir}, s.opts.Collector, enroll.Options{
		ClientOptions: s.opts.ClientOptions, Logger: s.opts.Logger, Client: machineapi.ClientDesktop,
	})
	st, err := e.Enroll(ctx, enroll.Config{Server: server, ProvisioningSecret: code})
	if err != nil {
		s.opts.Logger.WarnContext(ctx, "enrollment failed", "err", err)
		s.renderEnroll(w, r, server, "Enrollment failed: "+describe(err), http.StatusBadGateway)
		return
	}
	s.opts.Logger.InfoContext(ctx, "enrolled", "machine_id", st.MachineID)
	http.Redirect(w, r, "/"+s.secret+"/", http.StatusSeeOther)
}

func (s *Server) handlePortal(w http.ResponseWriter, r *http.Request) {
	_, st, ok := s.active()
	if !ok {
		http.Redirect(w, r, "/"+s.secret+"/", http.StatusSeeOther)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), apiTimeout)
	defer cancel()
	c, err := machineapi.New(st.Server, s.opts.ClientOptions)
	if err != nil {
		s.render(w, "portal", http.StatusBadGateway, portalPage{page: s.withError(err.Error())})
		return
	}
	hs, err := c.Handshake(ctx, st.MachineToken)
	if err != nil {
		s.render(w, "portal", http.StatusBadGateway, portalPage{page: s.withError(describe(err))})
		return
	}
	url := hs.URL
	if url == "" || !strings.HasPrefix(url, c.BaseURL()+"/") {
		url = c.HandshakeURL(hs.Code) // never follow a URL pointing elsewhere
	}
	p := portalPage{page: s.base(), URL: url, Redirect: s.opts.OpenBrowser == nil}
	if s.opts.OpenBrowser != nil {
		if err := s.opts.OpenBrowser(ctx, url); err != nil {
			p.Error = "Could not open the browser: " + err.Error()
		}
	}
	s.render(w, "portal", http.StatusOK, p)
}

func (s *Server) handleQuit(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("Slipway has closed. You can close this window.\n"))
	s.once.Do(func() { close(s.quit) })
}

func (s *Server) withError(msg string) page {
	p := s.base()
	p.Error = msg
	return p
}

func (s *Server) render(w http.ResponseWriter, name string, code int, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var buf strings.Builder
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		s.opts.Logger.Error("render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(code)
	_, _ = w.Write([]byte(buf.String()))
}

// describe turns a machine API error into a sentence for the user.
func describe(err error) string {
	switch {
	case errors.Is(err, machineapi.ErrUnauthorized):
		return "the server rejected the code or token (revoked or expired); enroll again with a current code."
	case errors.Is(err, machineapi.ErrRateLimited):
		return "too many attempts; wait a minute and try again."
	case errors.Is(err, machineapi.ErrUnavailable):
		return "the server cannot be reached right now (" + err.Error() + ")."
	}
	return err.Error()
}
