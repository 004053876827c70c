package ui_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestGuard checks that only this origin, with the launch secret and the
// form token, can use the UI.
func TestGuard(t *testing.T) {
	s := startUI(t, "http://127.0.0.1:9", t.TempDir())
	base := s.URL() // http://127.0.0.1:port/<secret>/
	u, _ := url.Parse(base)
	page := get(t, base)
	csrf := between(page, `name="csrf" value="`, `"`)
	if csrf == "" {
		t.Fatal("no csrf token on the page")
	}
	form := url.Values{"csrf": {csrf}, "server": {"http://127.0.0.1:9"}, "code": {"x"}}
	tests := []struct {
		name   string
		method string
		path   string
		header map[string]string
		form   url.Values
		want   int
	}{
		{"home", "GET", base, nil, nil, 200},
		{"static", "GET", base + "static/style.css", nil, nil, 200},
		{"no secret", "GET", "http://" + u.Host + "/", nil, nil, 404},
		{"wrong secret", "GET", "http://" + u.Host + "/" + strings.Repeat("A", 43) + "/", nil, nil, 404},
		{"secret prefix", "GET", "http://" + u.Host + u.Path[:10] + "/", nil, nil, 404},
		{"dns rebinding host", "GET", base, map[string]string{"Host": "evil.example:" + u.Port()}, nil, 403},
		{"localhost host", "GET", base, map[string]string{"Host": "localhost:" + u.Port()}, nil, 403},
		{"cross-origin post", "POST", base + "quit", map[string]string{"Origin": "http://evil.example"}, form, 403},
		{"null origin cross-site", "POST", base + "quit", map[string]string{"Origin": "null", "Sec-Fetch-Site": "cross-site"}, form, 403},
		{"no origin no fetch metadata", "POST", base + "quit", nil, form, 403},
		{"missing csrf", "POST", base + "enroll", map[string]string{"Origin": "http://" + u.Host}, url.Values{"code": {"x"}}, 403},
		{"wrong csrf", "POST", base + "enroll", map[string]string{"Origin": "http://" + u.Host}, url.Values{"csrf": {csrf + "x"}}, 403},
		{"oversize form", "POST", base + "enroll", map[string]string{"Origin": "http://" + u.Host}, url.Values{"csrf": {csrf}, "code": {strings.Repeat("x", 20000)}}, 403},
		{"long code", "POST", base + "enroll", map[string]string{"Origin": "http://" + u.Host}, url.Values{"csrf": {csrf}, "server": {"http://127.0.0.1:9"}, "code": {strings.Repeat("x", 600)}}, 400},
		{"bad server url", "POST", base + "enroll", map[string]string{"Origin": "http://" + u.Host}, url.Values{"csrf": {csrf}, "server": {"ftp://x"}, "code": {"x"}}, 400},
		{"server down", "POST", base + "enroll", map[string]string{"Origin": "null", "Sec-Fetch-Site": "same-origin"}, form, 502},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body *strings.Reader
			if tc.form != nil {
				body = strings.NewReader(tc.form.Encode())
			} else {
				body = strings.NewReader("")
			}
			req, _ := http.NewRequest(tc.method, tc.path, body)
			if tc.form != nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			for k, v := range tc.header {
				if k == "Host" {
					req.Host = v
				} else {
					req.Header.Set(k, v)
				}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if resp.StatusCode == 200 && resp.Header.Get("Referrer-Policy") != "no-referrer" {
				t.Fatal("Referrer-Policy missing")
			}
			if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Fatal("CSP missing")
			}
		})
	}
}

func get(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func between(s, a, b string) string {
	_, rest, ok := strings.Cut(s, a)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, b)
	return v
}
