package release

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/signing"
	"github.com/slipwayhq/slipway/signing/minisign"
)

// TestDefaultSignersSignVersion: the snapshot signers (dev keys) put the
// release version in the minisign trusted comment, which current Tauri
// updaters require and compare with the announced version.
func TestDefaultSignersSignVersion(t *testing.T) {
	dir := t.TempDir()
	signers, err := defaultSigners(Options{Snapshot: true, DataDir: dir}, "1.4.0-snapshot.gabc1234")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "app.tar.gz")
	if err := os.WriteFile(file, []byte("archive"), 0o644); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, s := range signers {
		if _, err := s.Sign(t.Context(), file); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if s.String() != "minisign" {
			continue
		}
		found = true
		text, err := os.ReadFile(file + signing.MinisigExt)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := minisign.ParseSignature(text)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(sig.TrustedComment, "\tversion:1.4.0-snapshot.gabc1234") {
			t.Errorf("trusted comment %q carries no version", sig.TrustedComment)
		}
	}
	if !found {
		t.Fatal("no minisign signer among the defaults")
	}
}
