// Package binfmttest builds small real executables (Windows PE, Mach-O
// for darwin/amd64 and darwin/arm64, ELF) for signing tests. Each target
// is built once per test binary and copied into each test's temp dir, as
// cross-compiling takes seconds on a busy machine.
package binfmttest

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

const mainGo = `package main

import "fmt"

func main() { fmt.Println("hello from a slipway signing test") }
`

// Builder caches one build per GOOS/GOARCH. The zero value is not usable;
// use NewBuilder, and call Cleanup from TestMain.
type Builder struct {
	mu   sync.Mutex
	dir  string
	bins map[string]*build
}

type build struct {
	once sync.Once
	path string
	err  error
}

// NewBuilder returns an empty builder.
func NewBuilder() *Builder { return &Builder{bins: map[string]*build{}} }

// Cleanup removes every cached binary.
func (b *Builder) Cleanup() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}

// Copy returns a fresh copy, inside t.TempDir(), of the tiny program built
// for goos/goarch (name "hello" plus ".exe" on windows).
func (b *Builder) Copy(t testing.TB, goos, goarch string) string {
	t.Helper()
	src, err := b.get(goos, goarch)
	if err != nil {
		t.Fatalf("build %s/%s: %v", goos, goarch, err)
	}
	name := "hello-" + goos + "-" + goarch
	if goos == "windows" {
		name += ".exe"
	}
	dst := filepath.Join(t.TempDir(), name)
	if err := CopyFile(dst, src); err != nil {
		t.Fatal(err)
	}
	return dst
}

func (b *Builder) get(goos, goarch string) (string, error) {
	b.mu.Lock()
	if b.dir == "" {
		dir, err := os.MkdirTemp("", "slipway-binfmttest-")
		if err != nil {
			b.mu.Unlock()
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(mainGo), 0o644); err != nil {
			b.mu.Unlock()
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hello\n\ngo 1.22\n"), 0o644); err != nil {
			b.mu.Unlock()
			return "", err
		}
		b.dir = dir
	}
	key := goos + "-" + goarch
	bd := b.bins[key]
	if bd == nil {
		bd = &build{}
		b.bins[key] = bd
	}
	dir := b.dir
	b.mu.Unlock()

	bd.once.Do(func() {
		bd.path = filepath.Join(dir, "hello-"+key)
		cmd := exec.Command("go", "build", "-trimpath", "-o", bd.path, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			bd.err = fmt.Errorf("%w: %s", err, out)
		}
	})
	return bd.path, bd.err
}

// CopyFile copies src to a new file dst with mode 0755.
func CopyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// FlipByte inverts one byte of the file at off.
func FlipByte(t testing.TB, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}
