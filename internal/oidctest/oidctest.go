// Package oidctest runs a real OpenID provider on 127.0.0.1 for tests:
// zitadel's certified op package (github.com/zitadel/oidc/v3/pkg/op),
// with the in-memory storage and username/password login page of its
// example server, and a groups claim added to userinfo. Only tests import
// it.
package oidctest

import (
	"context"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// User is an account of the provider.
type User struct {
	ID, Username, Password, Email string
	EmailVerified                 bool
	Groups                        []string
}

// Provider is a running OpenID provider.
type Provider struct {
	Issuer  string
	clients map[string]*storage.Client // the storage's own map
	dir     *directory
	st      *groupStorage
	srv     *http.Server
	l       net.Listener
	down    atomic.Bool
}

// directory is the provider's accounts and their groups; users can be
// removed and regrouped while the provider runs.
type directory struct {
	mu     sync.Mutex
	users  map[string]*storage.User
	groups map[string][]string
}

func (d *directory) GetUserByID(id string) *storage.User {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.users[id]
}
func (d *directory) GetUserByUsername(name string) *storage.User {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, v := range d.users {
		if v.Username == name {
			return v
		}
	}
	return nil
}
func (d *directory) ExampleClientID() string { return "service" }

func (d *directory) groupsOf(id string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.groups[id])
}

// groupStorage is the example storage plus a groups claim in userinfo, and
// no refresh for a user who is gone.
type groupStorage struct {
	*storage.Storage
	dir *directory
}

func (s *groupStorage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	if g := s.dir.groupsOf(info.Subject); g != nil {
		info.AppendClaims("groups", g)
	}
	return nil
}

func (s *groupStorage) TokenRequestByRefreshToken(ctx context.Context, refreshToken string) (op.RefreshTokenRequest, error) {
	req, err := s.Storage.TokenRequestByRefreshToken(ctx, refreshToken)
	if err == nil && s.dir.GetUserByID(req.GetSubject()) == nil {
		return nil, oidc.ErrInvalidGrant().WithDescription("user removed")
	}
	return req, err
}

// RemoveUser removes an account, as an administrator removes or disables
// a user at the provider: its tokens are revoked (refreshing is refused
// with invalid_grant) and it can no longer sign in.
func (p *Provider) RemoveUser(id string) {
	p.dir.mu.Lock()
	delete(p.dir.users, id)
	p.dir.mu.Unlock()
	for client := range p.clients {
		_ = p.st.TerminateSession(context.Background(), id, client)
	}
}

// SetGroups changes an account's groups.
func (p *Provider) SetGroups(id string, groups ...string) {
	p.dir.mu.Lock()
	defer p.dir.mu.Unlock()
	p.dir.groups[id] = groups
}

// New makes a provider on a loopback port with the accounts; register the
// relying parties with AddClient, then Serve.
func New(t testing.TB, accounts ...User) *Provider {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + l.Addr().String()
	dir := &directory{users: map[string]*storage.User{}, groups: map[string][]string{}}
	for _, a := range accounts {
		dir.users[a.ID] = &storage.User{ID: a.ID, Username: a.Username, Password: a.Password, Email: a.Email,
			EmailVerified: a.EmailVerified, FirstName: a.Username, LastName: "Test", PreferredLanguage: language.English}
		dir.groups[a.ID] = a.Groups
	}
	clients := map[string]*storage.Client{}
	st := &groupStorage{Storage: storage.NewStorageWithClients(dir, clients), dir: dir}
	p := &Provider{Issuer: issuer, clients: clients, dir: dir, st: st, l: l}
	op := exampleop.SetupServer(issuer, st, nil, false)
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.down.Load() {
			http.Error(w, "provider down for maintenance", http.StatusServiceUnavailable)
			return
		}
		op.ServeHTTP(w, r)
	})}
	t.Cleanup(func() { _ = p.srv.Close(); _ = l.Close() })
	return p
}

// SetDown makes every endpoint of the provider answer 503 (an outage)
// until SetDown(false).
func (p *Provider) SetDown(down bool) { p.down.Store(down) }

// AddClient registers a web client (HTTP basic client authentication);
// call it before Serve.
func (p *Provider) AddClient(clientID, secret, redirectURL string) {
	p.clients[clientID] = storage.WebClient(clientID, secret, redirectURL)
}

// Serve starts answering, until the test ends.
func (p *Provider) Serve() { go func() { _ = p.srv.Serve(p.l) }() }
