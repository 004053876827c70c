// Package agenttest runs the real Slipway server (real router, real SQLite)
// on a loopback port for the agent and desktop tests, and can take it down
// and bring it back on the same address.
package agenttest

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/store/sqlite"
)

// Server is a running Slipway server.
type Server struct {
	URL    string // http://127.0.0.1:port
	Secret string // the default tenant's provisioning secret
	Admin  string // the bootstrap admin token
	Dir    string // data directory

	t    testing.TB
	h    http.Handler
	addr string
	mu   sync.Mutex
	hs   *http.Server
}

// Start runs a server with the given config tweaks (DataDir, PublicURL and
// generous rate limits are preset). It stops at the end of the test.
func Start(t testing.TB, mod ...func(*server.Config)) *Server {
	t.Helper()
	return StartWith(t, server.Options{}, mod...)
}

// StartWith is Start with server options (Mount adds the updater routes).
// Store is always the test's own SQLite database.
func StartWith(t testing.TB, opts server.Options, mod ...func(*server.Config)) *Server {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "slipway.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, Dir: dir, addr: ln.Addr().String()}
	s.URL = "http://" + s.addr
	if _, err := server.EnsureBootstrap(t.Context(), st, dir, server.Bootstrap{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{DataDir: dir, PublicURL: s.URL, RateLimit: 1000, RateBurst: 1000}
	for _, m := range mod {
		m(&cfg)
	}
	opts.Store = st
	srv, err := server.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.h = srv
	s.Admin = readFile(t, filepath.Join(dir, server.AdminTokenFile))
	s.Secret = readFile(t, filepath.Join(dir, server.ProvisioningSecretFile))
	s.serve(ln)
	t.Cleanup(func() {
		s.Stop()
		_ = srv.Close()
		_ = st.Close()
	})
	return s
}

func (s *Server) serve(ln net.Listener) {
	hs := &http.Server{Handler: s.h}
	s.mu.Lock()
	s.hs = hs
	s.mu.Unlock()
	go func() { _ = hs.Serve(ln) }()
}

// Stop takes the server off the network (connections are refused).
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hs != nil {
		_ = s.hs.Close()
		s.hs = nil
	}
}

// Restart brings a stopped server back on the same address.
func (s *Server) Restart() {
	s.t.Helper()
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatalf("restart on %s: %v", s.addr, err)
	}
	s.serve(ln)
}

// AdminJSON calls the admin API and decodes the JSON answer.
func (s *Server) AdminJSON(method, path string) (int, map[string]any) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.URL+"/api/admin"+path, bytes.NewReader(nil))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.Admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	var m map[string]any
	if len(body) > 0 {
		if err := json.Unmarshal(body, &m); err != nil {
			s.t.Fatalf("%s %s: %v\n%s", method, path, err, body)
		}
	}
	return resp.StatusCode, m
}

// Machine returns the admin view of a machine.
func (s *Server) Machine(id string) map[string]any {
	s.t.Helper()
	code, m := s.AdminJSON(http.MethodGet, "/machines/"+id)
	if code != http.StatusOK {
		s.t.Fatalf("get machine %s: %d %v", id, code, m)
	}
	return m
}

// HeartbeatCount is the number of recent heartbeats the server lists.
func (s *Server) HeartbeatCount(id string) int {
	s.t.Helper()
	hbs, _ := s.Machine(id)["recentHeartbeats"].([]any)
	n := 0
	for _, h := range hbs {
		if m, ok := h.(map[string]any); ok && m["status"] != "registered" {
			n++
		}
	}
	return n
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
