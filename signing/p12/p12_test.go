package p12_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"os"
	"testing"

	"github.com/slipwayhq/slipway/signing"
	"github.com/slipwayhq/slipway/signing/p12"
	"github.com/slipwayhq/slipway/signing/p12/p12test"
)

func TestParse(t *testing.T) {
	modern := p12test.New(t, []byte("pw"), p12test.Options{})
	legacy := p12test.New(t, []byte("pw"), p12test.Options{Legacy: true})
	anyUse := p12test.New(t, []byte("pw"), p12test.Options{ExtUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	tls := p12test.New(t, []byte("pw"), p12test.Options{ExtUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	read := func(path string) []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := read(modern.P12)
	tests := []struct {
		name     string
		data     []byte
		password string
		want     error
	}{
		{"modern", good, "pw", nil},
		{"legacy", read(legacy.P12), "pw", nil},
		{"any usage", read(anyUse.P12), "pw", nil},
		{"tls only", read(tls.P12), "pw", signing.ErrBadKey},
		{"wrong password", good, "nope", signing.ErrWrongPassword},
		{"no password", good, "", signing.ErrNoPassword},
		{"empty", nil, "pw", signing.ErrBadKey},
		{"truncated", good[:len(good)-1], "pw", signing.ErrBadKey},
		{"garbage", bytes.Repeat([]byte("garbage!"), 100), "pw", signing.ErrBadKey},
		{"pem", read(modern.CAPEM), "pw", signing.ErrBadKey},
		{"oversize", make([]byte, p12.MaxSize+1), "pw", signing.ErrBadKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := p12.Parse("key.p12", tt.data, []byte(tt.password))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse = %v, want %v", err, tt.want)
			}
			if err != nil {
				if !bytes.Contains([]byte(err.Error()), []byte("key.p12")) {
					t.Errorf("error %q does not name the key", err)
				}
				return
			}
			if b.Key == nil || b.Cert == nil || len(b.Chain) != 1 {
				t.Errorf("bundle %+v", b)
			}
		})
	}
	if b, err := p12.Load(modern.P12, []byte("pw")); err != nil || !b.Cert.Equal(modern.Leaf) {
		t.Errorf("Load = %v, %v", b, err)
	}
}
