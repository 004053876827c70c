package macos

import (
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/anchore/quill/quill"
	qmacho "github.com/anchore/quill/quill/macho"
	"github.com/anchore/quill/quill/sign"
)

// errNotStripped: the thin binary still has a signature load command
// (a layout stripSignature leaves alone), so quill's own path signs it.
var errNotStripped = errors.New("signature load command still present")

// signThin signs an unsigned thin Mach-O in place with the super blob
// quill would write, hashing the code pages once, streamed from the file:
// quill.Sign reads the whole binary into memory twice (once to size the
// signature, once for real) and packs the hashes through reflection.
// The signature's size is fixed before hashing exactly as quill fixes it:
// from a first CMS signature over a code directory of the final size.
func signThin(cfg *quill.SigningConfig, external []slotBlob) error {
	m, err := qmacho.NewFile(cfg.Path)
	if err != nil {
		return err
	}
	defer m.Close()
	if m.HasCodeSigningCmd() {
		return errNotStripped
	}
	if m.Segment("__LINKEDIT") == nil {
		return errors.New("no __LINKEDIT segment")
	}
	if err := m.AddEmptyCodeSigningCmd(); err != nil {
		return err
	}
	cmd, _, err := m.CodeSigningCmd()
	if err != nil || cmd == nil {
		return fmt.Errorf("code signature load command: %w", cmp.Or(err, errors.New("missing")))
	}
	ents, err := readEntitlements(cfg.Entitlements)
	if err != nil {
		return err
	}
	sm := &cfg.SigningMaterial
	flags := uint32(cdFlagAdhoc)
	if sm.Signer != nil {
		flags = cdFlagRuntime
	}
	specials := append(specialBlobs(cfg.Identity, sm, ents), external...)
	cd, hashOff := newCodeDirectoryBlob(cfg.Identity, teamID(sm), flags, m, cmd.DataOffset, specials)
	estimate, err := cmsBlob(sm, cd)
	if err != nil {
		return err
	}
	sb, err := superBlob(cd, specials, estimate, 0)
	if err != nil {
		return err
	}
	size := len(sb)
	// the header now records the signature's size and the grown
	// __LINKEDIT; only then are the pages (the header among them) hashed
	if err := sign.UpdateSuperBlobOffsetReferences(m, uint64(size)); err != nil {
		return err
	}
	if err := hashPages(cfg.Path, int64(cmd.DataOffset), cd[hashOff:]); err != nil {
		return err
	}
	wrapper, err := cmsBlob(sm, cd)
	if err != nil {
		return err
	}
	if sb, err = superBlob(cd, specials, wrapper, size); err != nil {
		return err
	}
	return m.Patch(sb, len(sb), uint64(cmd.DataOffset))
}

// hashPages writes the SHA-256 of every 4 KiB page of the first limit
// bytes of path into dst (32 bytes per page, the last page short).
func hashPages(path string, limit int64, dst []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if want := (limit + pageSize - 1) / pageSize * sha256.Size; int64(len(dst)) != want {
		return fmt.Errorf("hash pages: %d bytes of hash slots for %d pages", len(dst), want/sha256.Size)
	}
	buf := make([]byte, 256*pageSize)
	for off := int64(0); off < limit; {
		n := int(min(int64(len(buf)), limit-off))
		if _, err := f.ReadAt(buf[:n], off); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("hash pages: read at %d: %w", off, err)
		}
		for p := 0; p < n; p += pageSize {
			sum := sha256.Sum256(buf[p:min(p+pageSize, n)])
			copy(dst, sum[:])
			dst = dst[sha256.Size:]
		}
		off += int64(n)
	}
	return nil
}
