package server

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestClientAddr(t *testing.T) {
	lb := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	many := strings.Repeat("10.0.0.9, ", maxForwardedHops+1) + "10.0.0.9"
	tests := []struct {
		name    string
		peer    string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"no proxies trusted: header ignored", "192.0.2.1:5000", []string{"203.0.113.7"}, nil, "192.0.2.1"},
		{"untrusted peer: header ignored", "192.0.2.1:5000", []string{"203.0.113.7"}, lb, "192.0.2.1"},
		{"trusted peer: client from header", "10.1.2.3:5000", []string{"203.0.113.7"}, lb, "203.0.113.7"},
		{"spoofed left entries are not reached", "10.1.2.3:5000", []string{"1.1.1.1, 203.0.113.7"}, lb, "203.0.113.7"},
		{"chain of trusted proxies is skipped", "10.1.2.3:5000", []string{"203.0.113.7, 10.9.9.9", "10.8.8.8"}, lb, "203.0.113.7"},
		{"no header: the proxy itself", "10.1.2.3:5000", nil, lb, "10.1.2.3"},
		{"garbage entry: the proxy itself", "10.1.2.3:5000", []string{"203.0.113.7, not-an-ip"}, lb, "10.1.2.3"},
		{"empty entry: the proxy itself", "10.1.2.3:5000", []string{"203.0.113.7,"}, lb, "10.1.2.3"},
		{"only trusted entries: the leftmost", "10.1.2.3:5000", []string{"10.4.4.4, 10.5.5.5"}, lb, "10.4.4.4"},
		{"too many hops: the last trusted one", "10.1.2.3:5000", []string{many}, lb, "10.0.0.9"},
		{"IPv6 proxy and client", "[2001:db8::1]:5000", []string{"2001:db8:ffff::5, 2a00::1"}, lb, "2a00::1"},
		{"IPv4-mapped peer", "[::ffff:10.1.2.3]:5000", []string{"203.0.113.7"}, lb, "203.0.113.7"},
		{"unparsable remote address", "pipe", nil, lb, "pipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tt.peer, Header: http.Header{}}
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientAddr(r, tt.trusted); got != tt.want {
				t.Errorf("clientAddr = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTrustedProxiesFromEnv(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "SLIPWAY_TRUSTED_PROXIES" {
				return v
			}
			return ""
		}
	}
	c, _, err := FromEnv(env("10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,10.1.2.3/8"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32", "10.0.0.0/8"}
	if len(c.TrustedProxies) != len(want) {
		t.Fatalf("got %v", c.TrustedProxies)
	}
	for i, p := range c.TrustedProxies {
		if p.String() != want[i] {
			t.Errorf("prefix %d = %s, want %s", i, p, want[i])
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0", "::g"} {
		if _, _, err := FromEnv(env(bad)); err == nil || !strings.Contains(err.Error(), "SLIPWAY_TRUSTED_PROXIES") {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}
