package adminui_test

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/slipwayhq/slipway/server/adminui"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/token"
)

// software gives a registered machine an agent list (and one history entry).
func software(t *testing.T, e *env, tok string, items ...store.Software) string {
	t.Helper()
	stored, err := e.st.GetToken(t.Context(), token.Hash(tok))
	if err != nil {
		t.Fatal(err)
	}
	for i, list := range [][]store.Software{append(items, store.Software{Name: "old-tool", Version: "1", Source: "deb_packages"}), items} {
		if _, err := e.st.ReplaceSoftware(t.Context(), store.SoftwareReport{MachineID: stored.MachineID, Origin: store.OriginAgent,
			Hash: fmt.Sprintf("h%d", i), Items: list, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	return stored.MachineID
}

func deb(name, version string) store.Software {
	return store.Software{Name: name, Version: version, Source: "deb_packages", Vendor: "Debian"}
}

// TestSoftwarePages: in a real browser, search "firefox < 128" across the
// fleet, follow a hit to the machine page, filter and sort its software.
func TestSoftwarePages(t *testing.T) {
	if os.Getenv("SLIPWAY_TEST_ARTIFACTS") == "" {
		// shot's fallback directory belongs to the first browser test and is
		// gone once it ends.
		t.Setenv("SLIPWAY_TEST_ARTIFACTS", t.TempDir())
	}
	e := newEnv(t, adminui.Options{})
	ctx := browser(t)
	old := software(t, e, register(t, e.ts.URL, "old-firefox", "SN-1"), deb("firefox-esr", "115.12.0esr-1"), deb("firefox", "127.0.2"),
		deb("bash", "5.2.15-2"), deb("curl", "7.88.1-10"))
	software(t, e, register(t, e.ts.URL, "new-firefox", "SN-2"), deb("firefox", "128.0"), deb("bash", "5.2.15-2"))
	err := chromedp.Do(ctx,
		chromedp.Navigate(e.ts.URL+"/admin/login"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), e.admin),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("machines")),
		chromedp.Click(chromedp.Search(`//nav/a[text()="Software"]`)),
		chromedp.WaitVisible(chromedp.ID("software-search")),
		chromedp.SendKeys(chromedp.CSS(`#software-search input[name=q]`), "Firefox < 128"),
		chromedp.Submit(chromedp.CSS(`#software-search input[name=q]`)),
		chromedp.WaitVisible(chromedp.Search(`//table[@id="software-hits"]//a[text()="old-firefox"]`)),
		chromedp.WaitNotPresent(chromedp.Search(`//table[@id="software-hits"]//a[text()="new-firefox"]`)),
		shot(t, "software-search"),
		chromedp.Click(chromedp.Search(`//table[@id="software-hits"]//a[text()="old-firefox"]`)),
		chromedp.WaitVisible(chromedp.ID("software-list")),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="software-count" and contains(., "4 of 4")]`)),
		chromedp.WaitVisible(chromedp.Search(`//table[@id="software-history"]//td[text()="old-tool"]`)),
		chromedp.SendKeys(chromedp.CSS(`#software-filter input[name=q]`), "fire"),
		chromedp.SetValue(chromedp.CSS(`#software-filter select[name=sort]`), "version"),
		chromedp.Click(chromedp.CSS(`#software-filter input[name=order]`)),
		chromedp.Submit(chromedp.CSS(`#software-filter input[name=q]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="software-count" and contains(., "2 of 4")]`)),
		shot(t, "machine-software"),
	)
	if err != nil {
		t.Fatal(err)
	}
	first, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#software-list tbody tr:first-child td:nth-child(2)`)))
	if err != nil {
		t.Fatal(err)
	}
	// Descending by version: firefox 127.0.2 before firefox-esr 115.
	if first != "127.0.2" {
		t.Fatalf("first row version %q, want 127.0.2", first)
	}
	c := e.client()
	e.login(t, c)
	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{"/admin/software?q=" + url.QueryEscape("< 128"), http.StatusBadRequest, "name is required"},
		{"/admin/software?q=firefox&cursor=%25%25", http.StatusBadRequest, "invalid cursor"},
		{"/admin/machines/" + old + "?sort=nonsense", http.StatusBadRequest, "unknown software sort"},
		{"/admin/software?q=" + url.QueryEscape("bash = 5.2.15-2"), http.StatusOK, "new-firefox"},
	} {
		res, body := get(t, c, e.ts.URL+tc.path)
		if res.StatusCode != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d, want %d with %q", tc.path, res.StatusCode, tc.status, tc.want)
		}
	}
}
