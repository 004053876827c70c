package ui_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/slipwayhq/slipway/agent/agenttest"
	"github.com/slipwayhq/slipway/agent/enroll"
	"github.com/slipwayhq/slipway/agent/identity"
	"github.com/slipwayhq/slipway/agent/inventory"
	"github.com/slipwayhq/slipway/desktop/ui"
	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/machineapi"
	"github.com/slipwayhq/slipway/server"
)

// startUI runs the desktop UI on a loopback port with its own token store.
func startUI(t *testing.T, serverURL, dir string) *ui.Server {
	t.Helper()
	s, err := ui.New(ui.Options{
		Dirs: []string{dir}, EnrollDir: dir, Server: serverURL, Version: "9.9.9",
		Collector: inventory.New(inventory.Options{Osquery: "off"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

func artifactsDir(t *testing.T) string {
	if d := os.Getenv("SLIPWAY_TEST_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func newBrowser(t *testing.T) context.Context {
	t.Helper()
	chromium := testenv.Tool(t, "chromium", "scripts/tools.sh apt")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // tests run as root
		chromedp.Flag("headless", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 1000),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelC := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelC(); cancelB(); cancelA() })
	return ctx
}

// TestDesktopInChromium enrolls through the form, checks the status page,
// and follows "Open support portal" through the server's handshake to a
// portal that verifies the session JWT and shows the machine identity.
func TestDesktopInChromium(t *testing.T) {
	ctx := newBrowser(t)
	portal := newTestPortal(t)
	srv := agenttest.Start(t, func(c *server.Config) { c.PortalURL = portal.URL + "/tickets" })
	portal.setServer(srv.URL)
	dir := t.TempDir()
	s := startUI(t, srv.URL, dir)
	// The agent service of this machine enrolled first, in a store the UI
	// does not read (as for a root-only store).
	agent, err := enroll.New(identity.Store{Dir: t.TempDir()}, inventory.New(inventory.Options{Osquery: "off"}),
		enroll.Options{}).Enroll(t.Context(), enroll.Config{Server: srv.URL, ProvisioningSecret: srv.Secret})
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var urls []string
	if err = chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			urls = append(urls, e.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}

	err = chromedp.Do(ctx,
		chromedp.Navigate(s.URL()),
		chromedp.WaitVisible(chromedp.ID("enroll-form")),
	)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if got := text(t, ctx, "inv-hostname"); got != host {
		t.Errorf("inventory preview hostname %q, want %q", got, host)
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("code"), srv.Secret),
		chromedp.Click(chromedp.ID("enroll")),
		chromedp.WaitVisible(chromedp.ID("status")),
	)
	if err != nil {
		t.Fatal(err)
	}
	st, err := identity.Store{Dir: dir}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := text(t, ctx, "machine-id"); got != st.MachineID {
		t.Fatalf("status page shows machine %q; stored %s", got, st.MachineID)
	}
	checkCoexists(t, srv.URL, agent, st)
	if got := text(t, ctx, "tenant"); got == "" {
		t.Error("status page shows no tenant")
	}
	if got := text(t, ctx, "machine-name"); got != host {
		t.Errorf("status page name %q, want %q", got, host)
	}
	shot(t, ctx, "desktop-status.png")

	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("portal")),
		chromedp.WaitVisible(chromedp.ID("portal-machine")),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := text(t, ctx, "portal-machine"); got != "machine:"+st.MachineID {
		t.Fatalf("portal shows %q, want machine:%s", got, st.MachineID)
	}
	shot(t, ctx, "desktop-portal.png")

	mu.Lock()
	defer mu.Unlock()
	for _, u := range urls {
		if strings.Contains(u, st.MachineToken) {
			t.Errorf("machine token in a URL: %s", u)
		}
	}
	secret := strings.Trim(strings.TrimPrefix(s.URL(), "http://"), "/")
	secret = secret[strings.Index(secret, "/")+1:]
	for _, req := range portal.requests() {
		if strings.Contains(req, secret) {
			t.Errorf("the UI secret leaked to the portal: %s", req)
		}
	}
}

func text(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		t.Fatalf("#%s: %v", id, err)
	}
	return strings.TrimSpace(v)
}

func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(artifactsDir(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// checkCoexists: the desktop enrolled the agent's machine as the "desktop"
// client, so the agent's token still works beside the desktop's.
func checkCoexists(t *testing.T, serverURL string, agent, desktop identity.State) {
	t.Helper()
	if desktop.MachineID != agent.MachineID || desktop.MachineToken == agent.MachineToken {
		t.Fatalf("desktop machine %s, agent machine %s: want one machine, two tokens", desktop.MachineID, agent.MachineID)
	}
	c, err := machineapi.New(serverURL, machineapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"agent": agent.MachineToken, "desktop": desktop.MachineToken} {
		if _, err := c.Heartbeat(t.Context(), tok, machineapi.HeartbeatRequest{Status: "ok"}); err != nil {
			t.Errorf("%s token after the desktop enrolled: %v", name, err)
		}
	}
}
