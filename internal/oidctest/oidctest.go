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
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
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
	srv     *http.Server
	l       net.Listener
}

type users map[string]*storage.User

func (u users) GetUserByID(id string) *storage.User { return u[id] }
func (u users) GetUserByUsername(name string) *storage.User {
	for _, v := range u {
		if v.Username == name {
			return v
		}
	}
	return nil
}
func (u users) ExampleClientID() string { return "service" }

// groupStorage is the example storage plus a groups claim in userinfo.
type groupStorage struct {
	*storage.Storage
	groups map[string][]string
}

func (s *groupStorage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	if g := s.groups[info.Subject]; g != nil {
		info.AppendClaims("groups", g)
	}
	return nil
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
	us, groups := users{}, map[string][]string{}
	for _, a := range accounts {
		us[a.ID] = &storage.User{ID: a.ID, Username: a.Username, Password: a.Password, Email: a.Email,
			EmailVerified: a.EmailVerified, FirstName: a.Username, LastName: "Test", PreferredLanguage: language.English}
		groups[a.ID] = a.Groups
	}
	clients := map[string]*storage.Client{}
	st := &groupStorage{Storage: storage.NewStorageWithClients(us, clients), groups: groups}
	srv := &http.Server{Handler: exampleop.SetupServer(issuer, st, nil, false)}
	t.Cleanup(func() { _ = srv.Close(); _ = l.Close() })
	return &Provider{Issuer: issuer, clients: clients, srv: srv, l: l}
}

// AddClient registers a web client (HTTP basic client authentication);
// call it before Serve.
func (p *Provider) AddClient(clientID, secret, redirectURL string) {
	p.clients[clientID] = storage.WebClient(clientID, secret, redirectURL)
}

// Serve starts answering, until the test ends.
func (p *Provider) Serve() { go func() { _ = p.srv.Serve(p.l) }() }
