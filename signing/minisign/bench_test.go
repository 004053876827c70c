package minisign

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/testenv"
)

// BenchmarkSign100MB signs one 100 MB file with Slipway's minisign signer
// (in-process, writing .minisig and .sig), with the reference `minisign -S`
// (unencrypted -W key, so no KDF) and hashes it with `b2sum` and
// `sha256sum` (the hashing floor), side by side in one run:
//
//	go test ./signing/minisign -run '^$' -bench Sign100MB -benchtime 10x
//
// Results: docs/benchmarks/signing-minisign.md.
func BenchmarkSign100MB(b *testing.B) {
	const size = 100 << 20
	dir := b.TempDir()
	path := filepath.Join(dir, "artifact.bin")
	writeRandomFile(b, path, size)
	run := func(b *testing.B, name string, args ...string) {
		b.Helper()
		if out, err := exec.CommandContext(b.Context(), name, args...).CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", name, err, out)
		}
	}
	for _, tool := range []string{"b2sum", "sha256sum"} {
		b.Run(tool, func(b *testing.B) {
			bin := testenv.Tool(b, tool, "coreutils")
			b.SetBytes(size)
			for b.Loop() {
				run(b, bin, path)
			}
		})
	}
	b.Run("go-blake2b-512", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := Prehash(f); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
	b.Run("minisign-S", func(b *testing.B) {
		ms := testenv.Tool(b, "minisign", "apt-get install minisign")
		key := filepath.Join(dir, "ms.key")
		run(b, ms, "-G", "-W", "-f", "-p", filepath.Join(dir, "ms.pub"), "-s", key)
		b.SetBytes(size)
		for b.Loop() {
			run(b, ms, "-S", "-s", key, "-m", path, "-x", path+".ref.minisig")
		}
	})
	b.Run("slipway", func(b *testing.B) {
		sk, _, err := GenerateKey(nil)
		if err != nil {
			b.Fatal(err)
		}
		s, err := New(sk, Options{Version: "1.2.3"})
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
}

// writeRandomFile writes size pseudo-random (incompressible) bytes.
func writeRandomFile(b *testing.B, path string, size int64) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if _, err := io.CopyN(w, detRand(byte(time.Now().Unix())), size); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}
