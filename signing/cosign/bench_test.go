package cosign

import (
	"bufio"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/slipwayhq/slipway/internal/testenv"
)

// BenchmarkSign100MB signs the same 100 MB file with Slipway's signer, the
// real `cosign sign-blob` and `sha256sum` (the hashing floor; go-sha256 is
// the same floor in-process, with Go's SHA-NI code), side by side:
//
//	go test ./signing/cosign -run '^$' -bench Sign100MB -benchtime 10x
//
// Results: docs/benchmarks/signing-cosign.md.
func BenchmarkSign100MB(b *testing.B) {
	const size = 100 << 20
	dir := b.TempDir()
	path := filepath.Join(dir, "artifact.bin")
	writeRandom(b, path, size)
	k, err := testKeys()
	if err != nil {
		b.Fatal(err)
	}
	keyPath := filepath.Join(dir, "cosign.key")
	if err := os.WriteFile(keyPath, k[0], 0o600); err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, name string, args ...string) {
		cmd := exec.CommandContext(b.Context(), name, args...)
		cmd.Env = append(os.Environ(), "COSIGN_PASSWORD="+testPassword, "HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", name, err, out)
		}
	}

	b.Run("sha256sum", func(b *testing.B) {
		bin := testenv.Tool(b, "sha256sum", "coreutils")
		b.SetBytes(size)
		for b.Loop() {
			run(b, bin, path)
		}
	})
	b.Run("go-sha256", func(b *testing.B) { // in-process floor: crypto/sha256 over the file
		b.SetBytes(size)
		for b.Loop() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(sha256.New(), f); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
	b.Run("slipway", func(b *testing.B) { // key decrypted once, as in a release run
		s, err := New(k[0], []byte(testPassword), Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(size)
		for b.Loop() {
			if _, err := s.Sign(b.Context(), path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("slipway-with-key-decrypt", func(b *testing.B) { // same fixed cost as the CLI
		b.SetBytes(size)
		for b.Loop() {
			s, err := New(k[0], []byte(testPassword), Options{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Sign(b.Context(), path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cosign-cli", func(b *testing.B) {
		bin := testenv.Tool(b, "cosign", "scripts/tools.sh cosign")
		b.SetBytes(size)
		for b.Loop() {
			run(b, bin, "sign-blob", "--key", keyPath, "--tlog-upload=false", "--yes",
				"--output-signature", filepath.Join(dir, "cli.sig"),
				"--bundle", filepath.Join(dir, "cli.sigstore.json"), "--new-bundle-format", path)
		}
	})
}

// writeRandom writes size pseudo-random (incompressible) bytes.
func writeRandom(b *testing.B, path string, size int) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.NewChaCha8([32]byte{'s', 'l', 'i', 'p', 'w', 'a', 'y'})
	buf := make([]byte, 1<<20)
	for n := 0; n < size; n += len(buf) {
		_, _ = r.Read(buf)
		if _, err := w.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}
