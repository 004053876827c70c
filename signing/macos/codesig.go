package macos

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto"
	_ "crypto/sha1" // code directories may use SHA-1 (hash type 1)
	_ "crypto/sha256"
	_ "crypto/sha512" // SHA-384 (hash type 4)
	"debug/macho"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Limits applied while parsing an embedded code signature.
const (
	maxSignatureSize = 16 << 20 // the whole LC_CODE_SIGNATURE blob
	maxBlobs         = 64       // entries in the super blob index
	maxPageShift     = 24       // 16 MiB pages, far above Apple's 4/16 KiB
)

// Magic numbers and slot types of Apple's code signing format
// (xnu osfmk/kern/cs_blobs.h).
const (
	lcCodeSignature       = 0x1d
	magicEmbeddedSig      = 0xfade0cc0
	magicCodeDirectory    = 0xfade0c02
	magicBlobWrapper      = 0xfade0b01
	slotCodeDirectory     = 0
	slotRequirements      = 2
	slotEntitlements      = 5
	slotEntitlementsDER   = 7
	slotAlternateCDFirst  = 0x1000
	slotAlternateCDLast   = 0x1004
	slotSignature         = 0x10000
	cdFlagAdhoc           = 0x2
	cdHeaderSize          = 44 // fields up to and including spare2
	hashTypeSHA1          = 1
	hashTypeSHA256        = 2
	hashTypeSHA384        = 4
	superBlobHeaderLength = 12
)

// codeSignature is the parsed embedded signature of one Mach-O slice.
type codeSignature struct {
	dataOffset uint32
	dirs       []codeDirectory
	blobs      map[uint32][]byte // slot type → raw blob (with its header)
	cms        []byte            // CMS payload of the signature slot; empty when ad-hoc
}

// codeDirectory is one CodeDirectory blob.
type codeDirectory struct {
	raw       []byte
	flags     uint32
	ident     string
	codeLimit uint64
	hash      crypto.Hash
	pageShift uint8
	special   [][]byte // special[i] is the hash for slot -(i+1)
	code      [][]byte
}

var errFormat = errors.New("malformed code signature")

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errFormat}, args...)...)
}

// readCodeSignature finds LC_CODE_SIGNATURE in a thin Mach-O slice and
// parses the signature it points to. It returns (nil, nil) when unsigned.
func readCodeSignature(f *macho.File, slice io.ReaderAt, sliceSize int64) (*codeSignature, error) {
	var off, size uint32
	found := false
	for _, l := range f.Loads {
		raw := l.Raw()
		if len(raw) < 16 || f.ByteOrder.Uint32(raw) != lcCodeSignature {
			continue
		}
		off, size = f.ByteOrder.Uint32(raw[8:]), f.ByteOrder.Uint32(raw[12:])
		found = true
	}
	if !found {
		return nil, nil
	}
	if size < superBlobHeaderLength || size > maxSignatureSize || int64(off)+int64(size) > sliceSize {
		return nil, formatErr("signature at %d+%d outside the %d-byte file", off, size, sliceSize)
	}
	data := make([]byte, size)
	if _, err := slice.ReadAt(data, int64(off)); err != nil {
		return nil, fmt.Errorf("read code signature: %w", err)
	}
	sig, err := parseSuperBlob(data)
	if err != nil {
		return nil, err
	}
	sig.dataOffset = off
	return sig, nil
}

// parseSuperBlob splits the embedded-signature super blob into its blobs.
func parseSuperBlob(data []byte) (*codeSignature, error) {
	be := binary.BigEndian
	if be.Uint32(data) != magicEmbeddedSig {
		return nil, formatErr("super blob magic %#x", be.Uint32(data))
	}
	length, count := be.Uint32(data[4:]), be.Uint32(data[8:])
	if length < superBlobHeaderLength || int(length) > len(data) || count > maxBlobs ||
		superBlobHeaderLength+8*int(count) > int(length) {
		return nil, formatErr("super blob length %d, count %d", length, count)
	}
	if !allZero(data[length:]) {
		return nil, formatErr("non-zero bytes after the %d-byte super blob", length)
	}
	data = data[:length]
	sig := &codeSignature{blobs: map[uint32][]byte{}}
	var spans [][2]uint32
	for i := range int(count) {
		entry := data[superBlobHeaderLength+8*i:]
		typ, off := be.Uint32(entry), be.Uint32(entry[4:])
		if uint64(off)+8 > uint64(len(data)) {
			return nil, formatErr("blob %d at %d outside the super blob", typ, off)
		}
		blen := be.Uint32(data[off+4:])
		if blen < 8 || uint64(off)+uint64(blen) > uint64(len(data)) {
			return nil, formatErr("blob %d length %d", typ, blen)
		}
		if _, dup := sig.blobs[typ]; dup {
			return nil, formatErr("duplicate blob %#x", typ)
		}
		sig.blobs[typ] = data[off : off+blen]
		spans = append(spans, [2]uint32{off, off + blen})
	}
	if err := checkGaps(data, superBlobHeaderLength+8*count, spans); err != nil {
		return nil, err
	}
	for _, slot := range []uint32{slotCodeDirectory, 0x1000, 0x1001, 0x1002, 0x1003, slotAlternateCDLast} {
		raw, ok := sig.blobs[slot]
		if !ok {
			continue
		}
		cd, err := parseCodeDirectory(raw)
		if err != nil {
			return nil, fmt.Errorf("code directory in slot %#x: %w", slot, err)
		}
		sig.dirs = append(sig.dirs, cd)
	}
	if _, ok := sig.blobs[slotCodeDirectory]; !ok {
		return nil, formatErr("no code directory")
	}
	if w, ok := sig.blobs[slotSignature]; ok {
		if be.Uint32(w) != magicBlobWrapper {
			return nil, formatErr("signature blob magic %#x", be.Uint32(w))
		}
		sig.cms = w[8:]
		// quill pads the DER to a size estimated beforehand; the padding
		// is not covered by the signature, so it must be zero. (BER with
		// indefinite lengths, as Apple's codesign writes, fails to
		// unmarshal here and is left to the CMS parser.)
		var raw asn1.RawValue
		if rest, err := asn1.Unmarshal(sig.cms, &raw); err == nil && !allZero(rest) {
			return nil, formatErr("non-zero bytes after the CMS signature")
		}
	}
	return sig, nil
}

// checkGaps requires every super-blob byte outside the header, index and
// blobs to be zero: quill pads the super blob to a size estimated before
// signing, and that padding is covered by no hash.
func checkGaps(data []byte, indexEnd uint32, spans [][2]uint32) error {
	covered := make([]bool, len(data))
	spans = append(spans, [2]uint32{0, indexEnd})
	for _, sp := range spans {
		for i := sp[0]; i < sp[1]; i++ {
			covered[i] = true
		}
	}
	for i, c := range covered {
		if !c && data[i] != 0 {
			return formatErr("non-zero byte at %d outside every blob", i)
		}
	}
	return nil
}

// parseCodeDirectory decodes a CodeDirectory blob and its hash slots.
func parseCodeDirectory(raw []byte) (codeDirectory, error) {
	be := binary.BigEndian
	if len(raw) < cdHeaderSize || be.Uint32(raw) != magicCodeDirectory {
		return codeDirectory{}, formatErr("not a code directory")
	}
	cd := codeDirectory{raw: raw, flags: be.Uint32(raw[12:])}
	version := be.Uint32(raw[8:])
	hashOff, identOff := be.Uint32(raw[16:]), be.Uint32(raw[20:])
	nSpecial, nCode := be.Uint32(raw[24:]), be.Uint32(raw[28:])
	cd.codeLimit = uint64(be.Uint32(raw[32:]))
	hashSize, hashType, pageShift := raw[36], raw[37], raw[39]
	if version >= 0x20300 && len(raw) >= 64 {
		if limit64 := be.Uint64(raw[56:]); limit64 != 0 {
			cd.codeLimit = limit64
		}
	}
	switch hashType {
	case hashTypeSHA1:
		cd.hash = crypto.SHA1
	case hashTypeSHA256:
		cd.hash = crypto.SHA256
	case hashTypeSHA384:
		cd.hash = crypto.SHA384
	default:
		return cd, formatErr("unsupported hash type %d", hashType)
	}
	if int(hashSize) != cd.hash.Size() {
		return cd, formatErr("hash size %d for %v", hashSize, cd.hash)
	}
	if pageShift > maxPageShift {
		return cd, formatErr("page size 2^%d", pageShift)
	}
	cd.pageShift = pageShift
	hs := uint64(hashSize)
	if uint64(nSpecial)*hs > uint64(hashOff) || uint64(hashOff)+uint64(nCode)*hs > uint64(len(raw)) {
		return cd, formatErr("%d special and %d code slots do not fit", nSpecial, nCode)
	}
	for i := range uint64(nSpecial) {
		start := uint64(hashOff) - (i+1)*hs
		cd.special = append(cd.special, raw[start:start+hs])
	}
	for i := range uint64(nCode) {
		start := uint64(hashOff) + i*hs
		cd.code = append(cd.code, raw[start:start+hs])
	}
	if identOff >= uint32(len(raw)) {
		return cd, formatErr("identifier offset %d", identOff)
	}
	ident, _, ok := bytes.Cut(raw[identOff:], []byte{0})
	if !ok {
		return cd, formatErr("identifier not terminated")
	}
	cd.ident = string(ident)
	return cd, nil
}

// checkHashes recomputes every code page hash and the special-slot hashes
// of the blobs present, comparing them with the code directory.
func (cd *codeDirectory) checkHashes(slice io.ReaderAt, sig *codeSignature) error {
	if cd.codeLimit != uint64(sig.dataOffset) {
		return fmt.Errorf("%w: code limit %d does not reach the signature at %d", errMismatch, cd.codeLimit, sig.dataOffset)
	}
	page := uint64(1) << cd.pageShift
	if cd.pageShift == 0 {
		page = cd.codeLimit // one hash over everything
	}
	want := (cd.codeLimit + page - 1) / page
	if uint64(len(cd.code)) != want {
		return fmt.Errorf("%w: %d page hashes for %d pages", errMismatch, len(cd.code), want)
	}
	h := cd.hash.New()
	buf := make([]byte, 64<<10)
	r := bufio.NewReaderSize(io.NewSectionReader(slice, 0, int64(cd.codeLimit)), 1<<20)
	for i, expected := range cd.code {
		start := uint64(i) * page
		n := min(page, cd.codeLimit-start)
		h.Reset()
		if w, err := io.CopyBuffer(h, io.LimitReader(r, int64(n)), buf); err != nil || w != int64(n) {
			return fmt.Errorf("read page %d (%d of %d bytes): %w", i, w, n, cmp.Or(err, io.ErrUnexpectedEOF))
		}
		if !bytes.Equal(h.Sum(nil), expected) {
			return fmt.Errorf("%w: page %d (offset %d)", errMismatch, i, start)
		}
	}
	for _, slot := range []uint32{slotRequirements, slotEntitlements, slotEntitlementsDER} {
		blob, present := sig.blobs[slot]
		var expected []byte
		if int(slot) <= len(cd.special) {
			expected = cd.special[slot-1]
		}
		switch {
		case present && expected == nil:
			return fmt.Errorf("%w: blob in slot %d has no hash", errMismatch, slot)
		case !present && expected != nil && !allZero(expected):
			return fmt.Errorf("%w: slot %d hashed but its blob is missing", errMismatch, slot)
		case present:
			h.Reset()
			h.Write(blob)
			if !bytes.Equal(h.Sum(nil), expected) {
				return fmt.Errorf("%w: special slot %d", errMismatch, slot)
			}
		}
	}
	return nil
}

var errMismatch = errors.New("code directory hash mismatch")

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
