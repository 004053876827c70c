package macos

import (
	"crypto/sha256"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	qmacho "github.com/anchore/quill/quill/macho"
	"github.com/anchore/quill/quill/pki"
	cms "github.com/github/smimesign/ietf-cms"
)

// The super blob built here is the one quill v0.7.1's
// sign.GenerateSigningSuperBlob builds (code directory version 0x20500,
// SHA-256, 4 KiB pages, requirements and optional entitlements, a CMS
// blob wrapper that is empty when ad hoc, four pages of zero padding),
// without its reflection-based packing and without buffering the file.
const (
	magicRequirement   = 0xfade0c00
	magicRequirements  = 0xfade0c01
	magicEntitlements  = 0xfade7171
	cdVersionRuntime   = 0x20500
	cdFlagRuntime      = 0x10000
	cdBlobHeaderSize   = 8 + 88 // blob header + CodeDirectory fields up to v0x20500
	execSegMainBinary  = 0x1
	cdRuntimeVersion   = 0x0c0100
	pageShift          = 12
	pageSize           = 1 << pageShift
	superBlobPadding   = 4 * pageSize
	designatedReqType  = 3
	requirementsHeader = 8 + 12 // blob header + count, type, offset
)

// slotBlob is a special-slot blob (requirements, entitlements) and its
// hash, or (raw nil) only the hash of a file outside the binary.
type slotBlob struct {
	slot uint32
	raw  []byte
	hash [sha256.Size]byte
}

func newBlob(magic uint32, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint32(b, magic)
	binary.BigEndian.PutUint32(b[4:], uint32(8+len(payload)))
	return append(b, payload...)
}

func newSlotBlob(slot, magic uint32, payload []byte) slotBlob {
	raw := newBlob(magic, payload)
	return slotBlob{slot: slot, raw: raw, hash: sha256.Sum256(raw)}
}

// specialBlobs returns the entitlements (when given) and requirements
// blobs in quill's order.
func specialBlobs(id string, sm *pki.SigningMaterial, entitlements []byte) []slotBlob {
	var out []slotBlob
	if len(entitlements) > 0 {
		out = append(out, newSlotBlob(slotEntitlements, magicEntitlements, entitlements))
	}
	reqs := []byte{0, 0, 0, 0}
	if sm.Signer != nil {
		req := newBlob(magicRequirement, append([]byte{0, 0, 0, 1}, requirementOps(id, sm)...))
		reqs = binary.BigEndian.AppendUint32(nil, 1)
		reqs = binary.BigEndian.AppendUint32(reqs, designatedReqType)
		reqs = binary.BigEndian.AppendUint32(reqs, requirementsHeader)
		reqs = append(reqs, req...)
	}
	return append(out, newSlotBlob(slotRequirements, magicRequirements, reqs))
}

// Requirement language opcodes and match types (Security framework).
const (
	opFalse              = 0
	opIdent              = 2
	opAnd                = 6
	opCertField          = 11
	opCertGeneric        = 14
	opAppleGenericAnchor = 15
	matchExists          = 0
	matchEqual           = 1
	anchorCertIndex      = ^uint32(0)
)

var appleCertExtensionsOID = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 2, 6}

// requirementOps encodes the designated requirement quill writes:
// identifier, "anchor apple generic" for Apple-issued chains, the Apple
// intermediate's extension, and the leaf's subject.OU, and-conjoined.
func requirementOps(id string, sm *pki.SigningMaterial) []byte {
	var stmts [][]byte
	if id != "" {
		stmts = append(stmts, appendReqBytes(be32(opIdent), []byte(id)))
	}
	if sm.HasCertWithOrg("Apple Inc.") {
		stmts = append(stmts, be32(opAppleGenericAnchor))
	}
	if i, c := sm.CertWithExtension(appleCertExtensionsOID); i != -1 && c != nil && c.IsCA {
		slot := uint32(i)
		if i == 0 {
			slot = anchorCertIndex
		}
		s := appendReqBytes(be32(opCertGeneric, slot), encodeOID(appleCertExtensionsOID))
		stmts = append(stmts, binary.BigEndian.AppendUint32(s, matchExists))
	}
	if leaf := sm.Leaf(); leaf != nil && len(leaf.Subject.OrganizationalUnit) > 0 {
		s := appendReqBytes(be32(opCertField, 0), []byte("subject.OU"))
		s = binary.BigEndian.AppendUint32(s, matchEqual)
		stmts = append(stmts, appendReqBytes(s, []byte(leaf.Subject.OrganizationalUnit[0])))
	}
	if len(stmts) == 0 {
		stmts = [][]byte{be32(opFalse)}
	}
	var ops []byte
	for i, s := range stmts { // prefix notation
		if i < len(stmts)-1 {
			ops = binary.BigEndian.AppendUint32(ops, opAnd)
		}
		ops = append(ops, s...)
	}
	return ops
}

func be32(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

// appendReqBytes appends a length-prefixed byte string padded to 4 bytes.
func appendReqBytes(b, data []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	return append(b, make([]byte, (4-len(data)%4)%4)...)
}

func encodeOID(oid asn1.ObjectIdentifier) []byte {
	res := base128(int64(oid[0])*40 + int64(oid[1]))
	for _, v := range oid[2:] {
		res = append(res, base128(int64(v))...)
	}
	return res
}

func base128(n int64) []byte {
	length := 1
	for i := n >> 7; i > 0; i >>= 7 {
		length++
	}
	b := make([]byte, 0, length)
	for i := length - 1; i >= 0; i-- {
		o := byte(n>>uint(i*7)) & 0x7f
		if i != 0 {
			o |= 0x80
		}
		b = append(b, o)
	}
	return b
}

// newCodeDirectoryBlob lays out the CodeDirectory of m with its page
// hashes left zero; it returns the blob and where the page hashes start.
// A non-empty teamID (the signing certificate's OU, as codesign and
// quill ≥ 0.7 record it) follows the identifier.
func newCodeDirectoryBlob(id, teamID string, flags uint32, m *qmacho.File, codeLimit uint32, specials []slotBlob) ([]byte, int) {
	nSpecial := uint32(0)
	bySlot := map[uint32][]byte{}
	for _, s := range specials {
		nSpecial = max(nSpecial, s.slot)
		bySlot[s.slot] = s.hash[:]
	}
	nPages := (uint64(codeLimit) + pageSize - 1) / pageSize
	teamOff := cdBlobHeaderSize + len(id) + 1
	hashOff := teamOff + int(nSpecial)*sha256.Size
	if teamID != "" {
		hashOff += len(teamID) + 1
	}
	cd := make([]byte, hashOff+int(nPages)*sha256.Size)
	be := binary.BigEndian
	be.PutUint32(cd, magicCodeDirectory)
	be.PutUint32(cd[4:], uint32(len(cd)))
	be.PutUint32(cd[8:], cdVersionRuntime)
	be.PutUint32(cd[12:], flags)
	be.PutUint32(cd[16:], uint32(hashOff))
	be.PutUint32(cd[20:], cdBlobHeaderSize)
	be.PutUint32(cd[24:], nSpecial)
	be.PutUint32(cd[28:], uint32(nPages))
	be.PutUint32(cd[32:], codeLimit)
	cd[36], cd[37], cd[39] = sha256.Size, hashTypeSHA256, pageShift
	// 40 spare2, 44 scatter, 52 spare3, 56 codeLimit64: zero
	if teamID != "" {
		be.PutUint32(cd[48:], uint32(teamOff))
		copy(cd[teamOff:], teamID)
	}
	if seg := m.Segment("__TEXT"); seg != nil {
		be.PutUint64(cd[64:], seg.Offset)
		be.PutUint64(cd[72:], seg.Filesz)
	}
	be.PutUint64(cd[80:], execSegMainBinary)
	be.PutUint32(cd[88:], cdRuntimeVersion)
	copy(cd[cdBlobHeaderSize:], id)
	for i := uint32(1); i <= nSpecial; i++ { // slot n first, slot 1 last
		copy(cd[hashOff-int(i)*sha256.Size:], bySlot[i])
	}
	return cd, hashOff
}

// cmsBlob wraps a detached CMS signature over cd, or nothing when ad hoc.
func cmsBlob(sm *pki.SigningMaterial, cd []byte) ([]byte, error) {
	if sm.Signer == nil {
		return newBlob(magicBlobWrapper, nil), nil
	}
	sd, err := cms.NewSignedData(cd)
	if err != nil {
		return nil, err
	}
	if err := sd.Sign(sm.Certs, sm.Signer); err != nil {
		return nil, fmt.Errorf("sign code directory: %w", err)
	}
	sd.Detached()
	if sm.TimestampServer != "" {
		if err := sd.AddTimestamps(sm.TimestampServer); err != nil {
			return nil, fmt.Errorf("unable to add timestamps (RFC3161): %w", err)
		}
	}
	der, err := sd.ToDER()
	if err != nil {
		return nil, err
	}
	return newBlob(magicBlobWrapper, der), nil
}

var errSignatureGrew = errors.New("CMS signature outgrew the space reserved for it")

// superBlob assembles the embedded signature, zero-padded to size bytes
// in all (or by four pages when size is 0).
func superBlob(cd []byte, specials []slotBlob, cmsWrapper []byte, size int) ([]byte, error) {
	blobs := [][]byte{cd}
	slots := []uint32{slotCodeDirectory}
	for _, s := range specials {
		if s.raw == nil {
			continue // the hash of a file outside the binary (Info.plist)
		}
		blobs, slots = append(blobs, s.raw), append(slots, s.slot)
	}
	blobs, slots = append(blobs, cmsWrapper), append(slots, slotSignature)
	off := superBlobHeaderLength + 8*len(blobs)
	length := off
	for _, b := range blobs {
		length += len(b)
	}
	if size == 0 {
		size = length + superBlobPadding
	}
	if length > size {
		return nil, fmt.Errorf("%w: %d > %d bytes", errSignatureGrew, length, size)
	}
	sb := make([]byte, off, size)
	be := binary.BigEndian
	be.PutUint32(sb, magicEmbeddedSig)
	// quill's length leaves out the 12-byte header (its SuperBlob.Add
	// counts only index entries and blobs), so 12 of the zero padding
	// bytes lie after the blob as the header describes it
	be.PutUint32(sb[4:], uint32(size-superBlobHeaderLength))
	be.PutUint32(sb[8:], uint32(len(blobs)))
	for i, b := range blobs {
		be.PutUint32(sb[superBlobHeaderLength+8*i:], slots[i])
		be.PutUint32(sb[superBlobHeaderLength+8*i+4:], uint32(off))
		off += len(b)
		sb = append(sb, b...)
	}
	return sb[:size], nil
}

// readEntitlements reads the entitlements plist, if one is configured.
func readEntitlements(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	return os.ReadFile(path)
}

// teamID is the Apple team identifier of the signing certificate: the
// leaf's first OU, or "" (ad hoc, or a certificate without one).
func teamID(sm *pki.SigningMaterial) string {
	if leaf := sm.Leaf(); leaf != nil && len(leaf.Subject.OrganizationalUnit) > 0 {
		return leaf.Subject.OrganizationalUnit[0]
	}
	return ""
}
