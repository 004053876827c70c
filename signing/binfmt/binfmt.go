// Package binfmt tells executable formats apart from their first bytes:
// Windows PE, MSI installers (OLE compound files), Mach-O (thin and fat/
// universal), ELF, or anything else. It reads a bounded header only, so it is
// safe to run on untrusted or huge files.
package binfmt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Format is an executable file format.
type Format uint8

// Formats recognised by Detect. Other means "not an executable we sign".
const (
	Other    Format = iota
	PE              // Windows Portable Executable (.exe, .dll)
	MSI             // OLE compound file, the container of .msi installers
	MachO           // thin Mach-O (one architecture)
	MachOFat        // universal (fat) Mach-O
	ELF             // Linux/BSD executable
)

func (f Format) String() string {
	switch f {
	case PE:
		return "pe"
	case MSI:
		return "msi"
	case MachO:
		return "macho"
	case MachOFat:
		return "macho-fat"
	case ELF:
		return "elf"
	default:
		return "other"
	}
}

// IsMachO reports whether f is a thin or fat Mach-O.
func (f Format) IsMachO() bool { return f == MachO || f == MachOFat }

// Limits on what Detect reads.
const (
	// HeaderSize is the most Detect reads from the start of a file.
	HeaderSize = 4096
	// maxPEOffset bounds e_lfanew, the offset of the "PE\0\0" signature.
	maxPEOffset = 1 << 16
	// maxFatArches bounds the architecture count of a fat Mach-O; Java
	// class files share the 0xcafebabe magic and have a version >= 45 there.
	maxFatArches = 20
)

var (
	oleMagic = []byte{0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1}
	elfMagic = []byte{0x7f, 'E', 'L', 'F'}
)

// Mach-O magics as read big-endian from the first four bytes.
const (
	machO32BE = 0xfeedface
	machO64BE = 0xfeedfacf
	machO32LE = 0xcefaedfe
	machO64LE = 0xcffaedfe
	fatMagic  = 0xcafebabe
	fat64     = 0xcafebabf
)

// DetectFile opens path and detects its format.
func DetectFile(path string) (Format, error) {
	f, err := os.Open(path)
	if err != nil {
		return Other, err
	}
	defer f.Close()
	format, err := Detect(f)
	if err != nil {
		return Other, fmt.Errorf("detect format of %s: %w", path, err)
	}
	return format, nil
}

// Detect reads at most HeaderSize bytes (plus four for a PE signature)
// from r and returns the format. Short files are Other, not an error.
func Detect(r io.ReaderAt) (Format, error) {
	hdr := make([]byte, HeaderSize)
	n, err := r.ReadAt(hdr, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return Other, err
	}
	hdr = hdr[:n]
	if len(hdr) < 4 {
		return Other, nil
	}
	switch {
	case hdr[0] == 'M' && hdr[1] == 'Z':
		return detectPE(r, hdr)
	case len(hdr) >= len(oleMagic) && string(hdr[:len(oleMagic)]) == string(oleMagic):
		return MSI, nil
	case string(hdr[:4]) == string(elfMagic):
		return ELF, nil
	}
	switch binary.BigEndian.Uint32(hdr) {
	case machO32BE, machO64BE, machO32LE, machO64LE:
		if len(hdr) < 28 { // mach_header is 28 bytes (32 for 64-bit)
			return Other, nil
		}
		return MachO, nil
	case fatMagic, fat64:
		return detectFat(hdr), nil
	}
	return Other, nil
}

// detectPE follows e_lfanew to the "PE\0\0" signature.
func detectPE(r io.ReaderAt, hdr []byte) (Format, error) {
	if len(hdr) < 0x40 {
		return Other, nil
	}
	off := int64(binary.LittleEndian.Uint32(hdr[0x3c:]))
	if off < 0x40 || off > maxPEOffset {
		return Other, nil
	}
	sig := make([]byte, 4)
	if off+4 <= int64(len(hdr)) {
		copy(sig, hdr[off:])
	} else if _, err := r.ReadAt(sig, off); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return Other, nil
		}
		return Other, err
	}
	if string(sig) != "PE\x00\x00" {
		return Other, nil
	}
	return PE, nil
}

// detectFat checks the fat header's architecture table fits and is sane.
func detectFat(hdr []byte) Format {
	if len(hdr) < 8 {
		return Other
	}
	magic := binary.BigEndian.Uint32(hdr)
	n := binary.BigEndian.Uint32(hdr[4:])
	if n == 0 || n >= maxFatArches {
		return Other // 0 arches is useless; large values are Java class files
	}
	entry := 20 // fat_arch
	if magic == fat64 {
		entry = 32 // fat_arch_64
	}
	if 8+int(n)*entry > len(hdr) {
		return Other
	}
	return MachOFat
}
