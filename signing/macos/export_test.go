package macos

import (
	"debug/macho"
	"os"

	"github.com/anchore/quill/quill"
)

// ParseSignature exposes the code-signature parser to the external tests.
func ParseSignature(data []byte) error {
	_, err := parseSuperBlob(data)
	return err
}

// QuillSign signs path in place the way Sign did before signThin: strip
// the old signature, then quill.Sign with the same configuration.
func (s *Signer) QuillSign(path string) error {
	cfg, err := s.signingConfig(path)
	if err != nil {
		return err
	}
	if err := stripSignature(path); err != nil {
		return err
	}
	return quill.Sign(*cfg)
}

// SignatureBlobs returns the blobs of a thin Mach-O's signature by slot
// type, and where the signature starts.
func SignatureBlobs(path string) (map[uint32][]byte, uint32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	mf, err := macho.NewFile(f)
	if err != nil {
		return nil, 0, err
	}
	sig, err := readCodeSignature(mf, f, st.Size())
	if err != nil || sig == nil {
		return nil, 0, err
	}
	return sig.blobs, sig.dataOffset, nil
}
