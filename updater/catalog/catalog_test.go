package catalog

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/signing"
	"github.com/slipwayhq/slipway/updater/internal/memstore"
	"github.com/slipwayhq/slipway/updater/updatertest"
)

const good = `{"product":"agent","version":"1.2.3","date":"2026-01-02T03:04:05Z","artifacts":[
 {"name":"a_1.2.3_linux_amd64.tar.gz","os":"linux","arch":"amd64","format":"tar.gz","size":3,
  "sha256":"0000000000000000000000000000000000000000000000000000000000000000","url":"a_1.2.3_linux_amd64.tar.gz",
  "signatures":{"minisign":"a_1.2.3_linux_amd64.tar.gz.minisig"}}]}`

func TestParse(t *testing.T) {
	if _, err := Parse([]byte(good)); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, json string }{
		{"garbage", "not json"},
		{"empty", ""},
		{"truncated", good[:len(good)/2]},
		{"trailing data", good + "{}"},
		{"unknown field", strings.Replace(good, `"product"`, `"evil":1,"product"`, 1)},
		{"bad version", strings.Replace(good, `"1.2.3"`, `"latest"`, 1)},
		{"path in name", strings.Replace(good, `"name":"a_1.2.3`, `"name":"../a_1.2.3`, 1)},
		{"url elsewhere", strings.Replace(good, `"url":"a_1.2.3_linux_amd64.tar.gz"`, `"url":"https://evil.example/x"`, 1)},
		{"bad sha256", strings.Replace(good, `"sha256":"00`, `"sha256":"zz`, 1)},
		{"negative size", strings.Replace(good, `"size":3`, `"size":-1`, 1)},
		{"signature path", strings.Replace(good, `"minisign":"a_`, `"minisign":"/etc/a_`, 1)},
		{"oversize", good + strings.Repeat(" ", MaxRecordSize)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse([]byte(tt.json)); !errors.Is(err, ErrBadRecord) {
				t.Fatalf("err = %v, want ErrBadRecord", err)
			}
		})
	}
}

func TestLoadAndCheck(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	pub := updatertest.New(t, st, "pre", 1)
	pub.Publish(t, "agent", "1.0.0", updatertest.Agent("1.0.0")...)
	rec, err := Load(ctx, st, "pre", "agent", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(ctx, st, "pre", rec, Minisign{Key: pub.PK}); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(ctx, st, "pre", "agent", "2.0.0"); !errors.Is(err, ErrNotPublished) {
		t.Fatalf("missing: %v", err)
	}
	// A record stored under another version's key is refused.
	pub.Put(t, "agent", "1.0.1", "release.json", st.Bytes("pre/releases/agent/1.0.0/release.json"))
	if _, err := Load(ctx, st, "pre", "agent", "1.0.1"); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("misplaced record: %v", err)
	}
	// Another key's signatures fail, for every artifact (errors joined).
	other := updatertest.New(t, memstore.New(), "", 2)
	err = Check(ctx, st, "pre", rec, Minisign{Key: other.PK})
	if !errors.Is(err, signing.ErrBadSignature) || strings.Count(err.Error(), "\n") != 1 {
		t.Fatalf("other key: %v", err)
	}
	// Artifacts and signatures of 1.0.0 relabelled as 1.0.2 are refused.
	relabelled := *rec
	relabelled.Version = "1.0.2"
	for _, a := range rec.Artifacts {
		for _, f := range []string{a.Name, a.Signatures["minisign"]} {
			pub.Put(t, "agent", "1.0.2", f, st.Bytes("pre/releases/agent/1.0.0/"+f))
		}
	}
	if err := Check(ctx, st, "pre", &relabelled, Minisign{Key: pub.PK}); !errors.Is(err, signing.ErrBadSignature) {
		t.Fatalf("relabelled release: %v", err)
	}
	// An oversized signature file is refused before parsing.
	pub.Put(t, "agent", "1.0.0", "slipway-agent_1.0.0_linux_amd64.tar.gz.minisig", bytes.Repeat([]byte("x"), MaxSignatureSize+1))
	if err := Check(ctx, st, "pre", rec, Minisign{Key: pub.PK}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversize signature: %v", err)
	}
}

func TestArchMatches(t *testing.T) {
	tests := []struct {
		os, arch, goos, goarch string
		want                   bool
	}{
		{"linux", "amd64", "linux", "amd64", true},
		{"linux", "amd64", "linux", "arm64", false},
		{"linux", "amd64", "windows", "amd64", false},
		{"darwin", "universal", "darwin", "arm64", true},
		{"darwin", "universal", "darwin", "amd64", true},
		{"darwin", "universal", "darwin", "386", false},
		{"linux", "universal", "linux", "amd64", false},
	}
	for _, tt := range tests {
		if got := ArchMatches(tt.os, tt.arch, tt.goos, tt.goarch); got != tt.want {
			t.Errorf("%+v: got %v", tt, got)
		}
	}
}
