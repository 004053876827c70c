// Package updatertest publishes small, really signed releases into a
// storage.Store the way the release pipeline does (artifacts, .minisig and
// Tauri .sig files next to them, release.json last), for the updater's
// tests.
package updatertest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/release"
	"github.com/slipwayhq/slipway/signing/minisign"
	"github.com/slipwayhq/slipway/storage"
)

// Publisher signs with one throw-away minisign key.
type Publisher struct {
	Store  storage.Store
	Prefix string
	SK     *minisign.SecretKey
	PK     *minisign.PublicKey
	// Date stamped on records. Default: 2026-01-02T03:04:05Z.
	Date time.Time
}

// New returns a publisher with an unencrypted key derived from seed, so
// signatures (and golden files) are reproducible.
func New(t testing.TB, st storage.Store, prefix string, seed byte) *Publisher {
	t.Helper()
	p, err := NewPublisher(st, prefix, seed)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// NewPublisher is New for programs (benchmarks) without a testing.TB.
func NewPublisher(st storage.Store, prefix string, seed byte) (*Publisher, error) {
	sk, pk, err := minisign.GenerateKeyWithOptions(nil, minisign.KeyOptions{Rand: rand.NewChaCha8([32]byte{seed})})
	if err != nil {
		return nil, err
	}
	return &Publisher{Store: st, Prefix: prefix, SK: sk, PK: pk, Date: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}, nil
}

// File is one artifact to publish.
type File struct {
	Name, OS, Arch, Format string
	Data                   []byte
}

// Publish signs and stores files as product/version and returns the record.
func (p *Publisher) Publish(t testing.TB, product, version string, files ...File) *release.Record {
	t.Helper()
	rec, err := p.PublishE(context.Background(), product, version, files...)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// PublishE is Publish returning errors.
func (p *Publisher) PublishE(ctx context.Context, product, version string, files ...File) (*release.Record, error) {
	rec := &release.Record{Product: product, Version: version, Commit: "abc123", Date: p.Date}
	put := func(name string, data []byte) error {
		return p.Store.Put(ctx, release.Key(p.Prefix, product, version, name), bytes.NewReader(data), int64(len(data)), "")
	}
	for _, f := range files {
		sig, err := minisign.Sign(p.SK, bytes.NewReader(f.Data), minisign.SignOptions{FileName: f.Name, Version: version, Time: p.Date})
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(f.Data)
		rec.Artifacts = append(rec.Artifacts, release.Artifact{Name: f.Name, OS: f.OS, Arch: f.Arch, Format: f.Format,
			Size: int64(len(f.Data)), SHA256: hex.EncodeToString(sum[:]), URL: f.Name,
			Signatures: map[string]string{"minisign": f.Name + ".minisig", "tauri": f.Name + ".sig"}})
		for name, data := range map[string][]byte{f.Name: f.Data, f.Name + ".minisig": sig.Encode(), f.Name + ".sig": []byte(sig.Tauri())} {
			if err := put(name, data); err != nil {
				return nil, err
			}
		}
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return nil, err
	}
	return rec, put(release.RecordName, data)
}

// Put stores one file of a release (to tamper with it in tests).
func (p *Publisher) Put(t testing.TB, product, version, name string, data []byte) {
	t.Helper()
	if err := p.Store.Put(context.Background(), release.Key(p.Prefix, product, version, name), bytes.NewReader(data), int64(len(data)), ""); err != nil {
		t.Fatal(err)
	}
}

// Agent returns the linux/amd64 and windows/amd64 archives of a fake
// agent release whose content names the version.
func Agent(version string) []File {
	return []File{
		{Name: "slipway-agent_" + version + "_linux_amd64.tar.gz", OS: "linux", Arch: "amd64", Format: "tar.gz", Data: []byte("agent " + version + " linux")},
		{Name: "slipway-agent_" + version + "_windows_amd64.zip", OS: "windows", Arch: "amd64", Format: "zip", Data: []byte("agent " + version + " windows")},
	}
}

// TauriApp returns the bundles of a fake Tauri app release.
func TauriApp(version string) []File {
	return []File{
		{Name: "MyApp_" + version + "_amd64.AppImage", OS: "linux", Arch: "amd64", Format: "appimage", Data: []byte("appimage " + version)},
		{Name: "MyApp_" + version + "_amd64.deb", OS: "linux", Arch: "amd64", Format: "deb", Data: []byte("deb " + version)},
		{Name: "MyApp.app.tar.gz", OS: "darwin", Arch: "arm64", Format: "app", Data: []byte("app " + version)},
		{Name: "MyApp_" + version + "_x64-setup.exe", OS: "windows", Arch: "amd64", Format: "nsis", Data: []byte("nsis " + version)},
		{Name: "MyApp_" + version + "_x64_en-US.msi", OS: "windows", Arch: "amd64", Format: "msi", Data: []byte("msi " + version)},
	}
}
