package adminui_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/server/adminui"
	"github.com/slipwayhq/slipway/storage/fs"
	"github.com/slipwayhq/slipway/updater/catalog"
	"github.com/slipwayhq/slipway/updater/channel"
	"github.com/slipwayhq/slipway/updater/endpoint"
	"github.com/slipwayhq/slipway/updater/publish"
	"github.com/slipwayhq/slipway/updater/repo"
	"github.com/slipwayhq/slipway/updater/updatertest"
)

// updater publishes agent 1.0.0 and 1.1.0 on agent/stable (1.1.0 at 100%)
// into a real file store with a TUF repository, and returns the update
// endpoints and the channels file the admin page edits.
func updater(t *testing.T) (*endpoint.Handler, *adminui.ChannelsFile) {
	t.Helper()
	dir := t.TempDir()
	st, err := fs.New(filepath.Join(dir, "artifacts"), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pub := updatertest.New(t, st, "", 1)
	pub.Publish(t, "agent", "1.0.0", updatertest.Agent("1.0.0")...)
	pub.Publish(t, "agent", "1.1.0", updatertest.Agent("1.1.0")...)
	keys, err := repo.EnsureKeys(filepath.Join(dir, "keys"), 1)
	if err != nil {
		t.Fatal(err)
	}
	f := &channel.File{}
	for _, v := range []string{"1.0.0", "1.1.0"} {
		if err := f.Promote("agent", "stable", v, 100); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "channels.yaml")
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
	cfg := publish.Config{Store: st, Verifier: catalog.Minisign{Key: pub.PK}}
	if _, err := publish.Apply(t.Context(), cfg, f, keys, time.Now()); err != nil {
		t.Fatal(err)
	}
	h, err := endpoint.New(t.Context(), st, endpoint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return h, &adminui.ChannelsFile{Path: path, Publish: cfg, Keys: keys}
}

func browser(t *testing.T) context.Context {
	t.Helper()
	exe := testenv.Tool(t, "chromium", "scripts/tools.sh apt")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.Flag("headless", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	alloc, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	// Start the browser on the undeadlined context; time-limit the steps after.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// shot saves a screenshot to $SLIPWAY_TEST_ARTIFACTS (or a temp dir) and logs where.
func shot(t *testing.T, name string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		png, err := chromedp.FullScreenshot(100)(ctx, tg)
		if err != nil {
			return chromedp.Void{}, err
		}
		dir := os.Getenv("SLIPWAY_TEST_ARTIFACTS")
		if dir == "" {
			dir = artifactsDir(t)
		}
		p := filepath.Join(dir, "adminui-"+name+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			return chromedp.Void{}, err
		}
		t.Logf("screenshot %s", p)
		return chromedp.Void{}, nil
	}
}

// artifactsDir is the test's own directory: one kept across tests would
// be removed when the first test that made it ends.
func artifactsDir(t *testing.T) string { return t.TempDir() }

func register(t *testing.T, base, host, serial string) string {
	t.Helper()
	code, out := testenv.CallJSON(t, "POST", base+"/api/machines/register", "", map[string]any{
		"provisioningSecret": provisioning, "hostname": host, "serialNumbers": []string{serial}, "macAddresses": []string{},
		"os": map[string]string{"name": "linux", "version": "12", "architecture": "amd64"},
	})
	if code != http.StatusOK && code != http.StatusCreated {
		t.Fatalf("register %s: %d %v", host, code, out)
	}
	return out["machineToken"].(string)
}

func updateOffered(t *testing.T, base string) int {
	t.Helper()
	res, err := http.Get(base + "/v1/updates/agent/stable?os=linux&arch=amd64&current=1.0.0&machine=m1")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// clickLive clicks the element sel finds in the live machines table, which
// the page re-renders every LiveInterval: the node found can be replaced
// before the click reaches it ("Could not find node with given id"), so
// such a click is tried again, up to five times.
func clickLive(sel string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		for i := 0; ; i++ {
			v, err := chromedp.Click(chromedp.Search(sel))(ctx, tg)
			if err == nil || i == 4 || !strings.Contains(err.Error(), "Could not find node") {
				return v, err
			}
		}
	}
}

func TestBrowserJourney(t *testing.T) {
	h, chans := updater(t)
	e := newEnv(t, adminui.Options{Rollouts: chans, LiveInterval: 200 * time.Millisecond}, h.Routes)
	ctx := browser(t)
	register(t, e.ts.URL, "quiet-host", "SN-QUIET")
	if code := updateOffered(t, e.ts.URL); code != http.StatusOK {
		t.Fatalf("before pause the endpoint should offer 1.1.0: %d", code)
	}
	machine := `//a[text()="live-host"]`
	err := chromedp.Do(ctx,
		chromedp.Navigate(e.ts.URL+"/admin/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		shot(t, "1-login"),
		chromedp.SendKeys(chromedp.ID("token"), e.admin),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("machines")),
		func(context.Context, *chromedp.Target) (chromedp.Void, error) {
			// A machine registers and heartbeats while the page is open.
			tok := register(t, e.ts.URL, "live-host", "SN-LIVE")
			code, _ := testenv.CallJSON(t, "POST", e.ts.URL+"/api/machines/heartbeat", tok, map[string]any{"status": "ok", "agentVersion": "1.0.0",
				"metrics": map[string]any{"cpu": 21.5, "memory": 48}})
			if code != http.StatusOK {
				t.Errorf("heartbeat: %d", code)
			}
			return chromedp.Void{}, nil
		},
		chromedp.WaitVisible(chromedp.Search(machine)),
		chromedp.WaitVisible(chromedp.Search(`//tr[.//a[text()="live-host"]]//span[contains(@class,"online")]`)),
		shot(t, "2-live"),
		chromedp.SetValue(chromedp.ID("q"), "live"),
		chromedp.Click(chromedp.ID("apply")),
		chromedp.WaitVisible(chromedp.Search(`//input[@id="q" and @value="live"]`)),
		chromedp.WaitNotPresent(chromedp.Search(`//a[text()="quiet-host"]`)),
		chromedp.WaitVisible(chromedp.Search(machine)),
		shot(t, "3-filtered"),
		clickLive(machine),
		chromedp.WaitVisible(chromedp.ID("hostname")),
		chromedp.WaitVisible(chromedp.ID("chart")),
		shot(t, "4-machine"),
		chromedp.Navigate(e.ts.URL+"/admin/releases"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-channel="agent/stable"] button.act`)),
		chromedp.Click(chromedp.CSS(`tr[data-channel="agent/stable"] button.act`)),
		chromedp.WaitVisible(chromedp.ID("done")),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-channel="agent/stable"] .badge.paused`)),
		shot(t, "5-paused"),
		chromedp.Click(chromedp.Search(`//nav/a[text()="Audit log"]`)),
		chromedp.WaitVisible(chromedp.Search(`//table[@id="audit"]//tr[@data-action="pause"]/td[contains(., "agent/stable")]`)),
		shot(t, "6-audit"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Reload(t.Context()); err != nil { // what endpoint.Run does every few seconds
		t.Fatal(err)
	}
	if code := updateOffered(t, e.ts.URL); code != http.StatusNoContent {
		t.Fatalf("after pausing from the page the endpoint still offers an update: %d", code)
	}
	f, err := channel.Load(chans.Path)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := f.Channel("agent", "stable"); !c.Paused {
		t.Fatal("channels file not paused")
	}
}
