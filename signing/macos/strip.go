package macos

import (
	"debug/macho"
	"fmt"
	"os"
)

// Load command types used when stripping.
const (
	lcSegment   = 0x1
	lcSegment64 = 0x19
)

// stripSignature removes the embedded signature of a thin Mach-O the way
// `codesign --remove-signature` does: it drops LC_CODE_SIGNATURE, shrinks
// __LINKEDIT and truncates the file. quill alone only zeroes the old
// signature and appends the new one after it, so each re-sign (and the
// first signing of a linker-signed arm64 Go binary) would grow the file
// and hash the dead bytes as code. Layouts it does not recognise (the
// signature not last, or not at the end of __LINKEDIT and the file) are
// left for quill to handle.
func stripSignature(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	mf, err := macho.NewFile(f)
	if err != nil {
		return fmt.Errorf("parse Mach-O: %w", err)
	}
	hdrSize := int64(28)
	if mf.Magic == macho.Magic64 {
		hdrSize = 32
	}
	off := hdrSize
	var sigCmdOff, linkeditCmdOff int64 = -1, -1
	var sigCmdSize, dataOff, dataSize uint32
	var linkedit *macho.Segment
	for i, l := range mf.Loads {
		raw := l.Raw()
		switch cmd := mf.ByteOrder.Uint32(raw); {
		case cmd == lcCodeSignature && i == len(mf.Loads)-1 && len(raw) >= 16:
			sigCmdOff, sigCmdSize = off, uint32(len(raw))
			dataOff, dataSize = mf.ByteOrder.Uint32(raw[8:]), mf.ByteOrder.Uint32(raw[12:])
		case cmd == lcSegment || cmd == lcSegment64:
			if s, ok := l.(*macho.Segment); ok && s.Name == "__LINKEDIT" {
				linkedit, linkeditCmdOff = s, off
			}
		}
		off += int64(len(raw))
	}
	end := uint64(dataOff) + uint64(dataSize)
	if sigCmdOff < 0 || linkedit == nil || linkedit.Offset+linkedit.Filesz != end ||
		uint64(st.Size()) != end || uint64(dataOff) < linkedit.Offset {
		return nil
	}
	bo := mf.ByteOrder
	// mach_header: ncmds at 16, sizeofcmds at 20 (same for 32 and 64 bit).
	hdr := make([]byte, 8)
	bo.PutUint32(hdr, mf.Ncmd-1)
	bo.PutUint32(hdr[4:], mf.Cmdsz-sigCmdSize)
	if _, err := f.WriteAt(hdr, 16); err != nil {
		return err
	}
	if _, err := f.WriteAt(make([]byte, sigCmdSize), sigCmdOff); err != nil {
		return err
	}
	newFilesz := uint64(dataOff) - linkedit.Offset
	if mf.Magic == macho.Magic64 {
		b := make([]byte, 8)
		bo.PutUint64(b, newFilesz)
		_, err = f.WriteAt(b, linkeditCmdOff+48) // segment_command_64.filesize
	} else {
		b := make([]byte, 4)
		bo.PutUint32(b, uint32(newFilesz))
		_, err = f.WriteAt(b, linkeditCmdOff+36) // segment_command.filesize
	}
	if err != nil {
		return err
	}
	return f.Truncate(int64(dataOff))
}
