package minisign

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/signing"
)

func TestSignerBackend(t *testing.T) {
	sk, pk, err := GenerateKeyWithOptions(nil, KeyOptions{Rand: detRand(10)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(sk, Options{Version: "1.2.3", Now: func() time.Time { return goldenTime }})
	if err != nil {
		t.Fatal(err)
	}
	if s.String() != "minisign" || s.Check(t.Context()) != nil {
		t.Fatal("backend name or check")
	}
	dir := t.TempDir()
	art := filepath.Join(dir, "MyApp.app.tar.gz")
	writeFile(t, art, goldenData)
	written, err := s.Sign(t.Context(), art)
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != 2 || written[0] != art+signing.MinisigExt || written[1] != art+signing.TauriSigExt {
		t.Fatalf("written = %v", written)
	}
	minisig, tauri := readFile(t, written[0]), readFile(t, written[1])
	if string(tauri) != b64.EncodeToString(minisig) {
		t.Error(".sig is not base64 of .minisig")
	}
	if err := s.Verify(t.Context(), art); err != nil {
		t.Fatal(err)
	}
	// Only the .sig (what a Tauri release ships) is enough.
	if err := os.Remove(written[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := NewVerifier(pk, VerifierOptions{Version: "v1.2.3"}).VerifyFile(t.Context(), art); err != nil {
		t.Fatalf(".sig only: %v", err)
	}
	if _, err := NewVerifier(pk, VerifierOptions{Version: "1.2.4"}).VerifyFile(t.Context(), art); !errors.Is(err, ErrSignedVersionMismatch) {
		t.Fatalf("other version: %v", err)
	}
	// A .minisig that disagrees with the .sig is refused.
	other, _ := Sign(sk, bytes.NewReader(goldenData), SignOptions{Version: "1.2.3"})
	writeFile(t, written[0], other.Encode())
	if _, err := NewVerifier(pk, VerifierOptions{}).VerifyFile(t.Context(), art); !errors.Is(err, signing.ErrBadSignature) {
		t.Fatalf("disagreeing files: %v", err)
	}
	// Corrupt .sig.
	writeFile(t, written[1], append(tauri, '\n'))
	if _, err := NewVerifier(pk, VerifierOptions{}).VerifyFile(t.Context(), art); !errors.Is(err, ErrMalformedSignature) {
		t.Fatalf("corrupt .sig: %v", err)
	}
	for _, p := range written {
		os.Remove(p)
	}
	if _, err := NewVerifier(pk, VerifierOptions{}).VerifyFile(t.Context(), art); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("no signatures: %v", err)
	}
	if _, err := s.Sign(t.Context(), filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing artifact: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Sign(ctx, art); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if _, err := New(nil, Options{}); !errors.Is(err, signing.ErrBadKey) {
		t.Fatalf("nil key: %v", err)
	}
}

// TestSignerGolden pins the files the backend writes for a fixed key and clock.
func TestSignerGolden(t *testing.T) {
	sk, _, err := GenerateKeyWithOptions(nil, KeyOptions{Rand: detRand(1)})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := New(sk, Options{Version: "1.2.3", Now: func() time.Time { return goldenTime }})
	art := filepath.Join(t.TempDir(), "MyApp.app.tar.gz")
	writeFile(t, art, goldenData)
	if _, err := s.Sign(t.Context(), art); err != nil {
		t.Fatal(err)
	}
	// Same key, time, name and data as TestGolden: the same bytes.
	golden(t, "TestGolden.minisig.golden", readFile(t, art+signing.MinisigExt))
	golden(t, "TestGolden.sig.golden", readFile(t, art+signing.TauriSigExt))
}

// TestLargeFileMapped signs a file big enough for the memory-mapped path
// and checks it against streaming verification and the minisign CLI.
func TestLargeFileMapped(t *testing.T) {
	sk, pk, _ := GenerateKeyWithOptions(nil, KeyOptions{Rand: detRand(11)})
	s, _ := New(sk, Options{Version: "1.0.0"})
	art := filepath.Join(t.TempDir(), "big.AppImage")
	data := bytes.Repeat([]byte("0123456789abcdef"), 3*mmapMinSize/16+5)
	writeFile(t, art, data)
	if _, err := s.Sign(t.Context(), art); err != nil {
		t.Fatal(err)
	}
	sig, err := ParseSignature(readFile(t, art+signing.MinisigExt))
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(pk, bytes.NewReader(data), sig); err != nil {
		t.Fatalf("streaming verify of a mapped-hash signature: %v", err)
	}
	if _, err := NewVerifier(pk, VerifierOptions{}).VerifyFile(t.Context(), art); err != nil {
		t.Fatal(err)
	}
	writeFile(t, art, flip(data, len(data)-1))
	if _, err := NewVerifier(pk, VerifierOptions{}).VerifyFile(t.Context(), art); !errors.Is(err, signing.ErrBadSignature) {
		t.Fatalf("last byte flipped: %v", err)
	}
}

// TestMappedFileTruncated: a file that shrinks while mapped makes hashing
// fail with an error, not crash the process with SIGBUS.
func TestMappedFileTruncated(t *testing.T) {
	p := filepath.Join(t.TempDir(), "shrinks")
	writeFile(t, p, make([]byte, 4*mmapMinSize))
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, unmap, err := mapFile(f, 4*mmapMinSize)
	if err != nil {
		t.Skipf("no mmap here: %v", err)
	}
	defer unmap()
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := hashMapped(t.Context(), data); err == nil {
		t.Fatal("hashing a truncated mapping succeeded")
	}
}
