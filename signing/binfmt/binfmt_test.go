package binfmt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// pe builds a minimal DOS header whose e_lfanew points at sig.
func pe(lfanew uint32, sig string, size int) []byte {
	b := make([]byte, size)
	copy(b, "MZ")
	binary.LittleEndian.PutUint32(b[0x3c:], lfanew)
	if int(lfanew)+len(sig) <= size {
		copy(b[lfanew:], sig)
	}
	return b
}

func be32(vs ...uint32) []byte {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.BigEndian.PutUint32(b[4*i:], v)
	}
	return b
}

func pad(b []byte, n int) []byte { return append(b, make([]byte, n)...) }

func TestDetect(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want Format
	}{
		{"empty", nil, Other},
		{"three bytes", []byte("MZ\x00"), Other},
		{"text", []byte("#!/bin/sh\necho hello\n"), Other},
		{"pe", pe(0x80, "PE\x00\x00", 512), PE},
		{"pe signature beyond header", pe(HeaderSize+100, "PE\x00\x00", HeaderSize+200), PE},
		{"pe signature truncated", pe(HeaderSize+100, "PE", HeaderSize+102), Other},
		{"pe lfanew past end", pe(0x1000, "", 512), Other},
		{"pe lfanew huge", pe(0xffffff00, "", 512), Other},
		{"pe lfanew inside dos header", pe(0x10, "", 512), Other},
		{"dos stub only", pe(0x80, "NE\x00\x00", 512), Other},
		{"mz truncated header", []byte("MZ\x90\x00\x03"), Other},
		{"msi", pad([]byte{0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1}, 504), MSI},
		{"elf", pad([]byte("\x7fELF\x02\x01\x01"), 57), ELF},
		{"macho 64 le", pad(be32(machO64LE), 60), MachO},
		{"macho 32 le", pad(be32(machO32LE), 60), MachO},
		{"macho 64 be", pad(be32(machO64BE), 60), MachO},
		{"macho truncated", pad(be32(machO64LE), 8), Other},
		{"fat two arches", pad(be32(fatMagic, 2), 40), MachOFat},
		{"fat64 one arch", pad(be32(fat64, 1), 32), MachOFat},
		{"fat table truncated", pad(be32(fatMagic, 3), 20), Other},
		{"fat zero arches", pad(be32(fatMagic, 0), 40), Other},
		{"java class file", pad(be32(fatMagic, 0x34), 64), Other},
		{"fat magic only", be32(fatMagic), Other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Detect(bytes.NewReader(tt.in))
			if err != nil {
				t.Fatalf("Detect: %v", err)
			}
			if got != tt.want {
				t.Errorf("Detect = %v, want %v", got, tt.want)
			}
		})
	}
}

// countingReader records how far Detect reads.
type countingReader struct {
	r     *bytes.Reader
	max   int64 // furthest offset read
	total int64 // bytes read
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	if end := off + int64(n); end > c.max {
		c.max = end
	}
	c.total += int64(n)
	return n, err
}

func TestDetectReadsBoundedHeader(t *testing.T) {
	big := pe(0x80, "PE\x00\x00", 8<<20)
	cr := &countingReader{r: bytes.NewReader(big)}
	if f, err := Detect(cr); err != nil || f != PE {
		t.Fatalf("Detect = %v, %v", f, err)
	}
	if cr.max > HeaderSize+4 {
		t.Errorf("read %d bytes, want at most %d", cr.max, HeaderSize+4)
	}
}

type failingReader struct{}

var errDisk = errors.New("disk on fire")

func (failingReader) ReadAt([]byte, int64) (int, error) { return 0, errDisk }

func TestDetectReadError(t *testing.T) {
	if _, err := Detect(failingReader{}); !errors.Is(err, errDisk) {
		t.Fatalf("err = %v, want %v", err, errDisk)
	}
}

func TestDetectFile(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if f, err := DetectFile(self); err != nil || f != ELF {
		t.Errorf("test binary: %v, %v; want elf", f, err)
	}
	if _, err := DetectFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
}

func TestFormatString(t *testing.T) {
	for f, want := range map[Format]string{Other: "other", PE: "pe", MSI: "msi", MachO: "macho", MachOFat: "macho-fat", ELF: "elf"} {
		if f.String() != want {
			t.Errorf("%d.String() = %q, want %q", f, f.String(), want)
		}
		if f.IsMachO() != (f == MachO || f == MachOFat) {
			t.Errorf("%v.IsMachO wrong", f)
		}
	}
}

// FuzzDetect: any input is classified without error or panic, reading at
// most HeaderSize bytes plus a 4-byte PE signature within the first 64 KiB. `go test -fuzz FuzzDetect ./signing/binfmt`
// explores further; plain `go test` runs the seeds.
func FuzzDetect(f *testing.F) {
	f.Add([]byte{})
	f.Add(pe(0x80, "PE\x00\x00", 512))
	f.Add(pe(HeaderSize+8, "PE\x00\x00", HeaderSize+12))
	f.Add(pad(be32(fatMagic, 2), 40))
	f.Add(pad(be32(machO64LE), 60))
	f.Add([]byte("\x7fELF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cr := &countingReader{r: bytes.NewReader(data)}
		got, err := Detect(cr)
		if err != nil {
			t.Fatalf("Detect: %v", err)
		}
		if cr.total > HeaderSize+4 || cr.max > maxPEOffset+4 {
			t.Fatalf("read %d bytes, up to offset %d", cr.total, cr.max)
		}
		if got == PE && !bytes.HasPrefix(data, []byte("MZ")) {
			t.Fatalf("PE without MZ")
		}
	})
}
