package minisign

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Signature is a parsed minisign signature (.minisig).
type Signature struct {
	// Legacy is true for "Ed" signatures over the raw data; false for
	// prehashed "ED" signatures over BLAKE2b-512(data), the default.
	Legacy bool
	// KeyID names the key that made the signature.
	KeyID KeyID
	// Sig is the Ed25519 signature over the data (or its hash).
	Sig [64]byte
	// UntrustedComment is line 1 without its prefix; not signed.
	UntrustedComment string
	// TrustedComment is line 3 without its prefix; signed by GlobalSig.
	TrustedComment string
	// GlobalSig is the Ed25519 signature over Sig || TrustedComment.
	GlobalSig [64]byte
}

// Encode returns the .minisig text: four lines, each ending in "\n".
func (s *Signature) Encode() []byte {
	alg := algPrehashed
	if s.Legacy {
		alg = algLegacy
	}
	line2 := make([]byte, 0, signatureLen)
	line2 = append(line2, alg...)
	line2 = append(line2, s.KeyID[:]...)
	line2 = append(line2, s.Sig[:]...)
	var b bytes.Buffer
	b.Grow(MaxSignatureLen)
	b.WriteString(untrustedPrefix + s.UntrustedComment + "\n")
	b.WriteString(b64.EncodeToString(line2) + "\n")
	b.WriteString(trustedPrefix + s.TrustedComment + "\n")
	b.WriteString(b64.EncodeToString(s.GlobalSig[:]) + "\n")
	return b.Bytes()
}

// Tauri returns the Tauri .sig form: standard padded base64 of the whole
// .minisig text, one line, no trailing newline. It is also the value of
// the "signature" field in Tauri updater responses.
func (s *Signature) Tauri() string { return b64.EncodeToString(s.Encode()) }

// Field returns the value of a "name:value" field of the trusted comment
// (tab-separated, as minisign and Tauri write it), e.g. Field("version").
func (s *Signature) Field(name string) (string, bool) {
	for f := range strings.SplitSeq(s.TrustedComment, "\t") {
		if v, ok := strings.CutPrefix(f, name+":"); ok {
			return v, true
		}
	}
	return "", false
}

// ParseSignature strictly parses .minisig text: exactly four lines with the
// comment prefixes, 74 and 64 decoded bytes, algorithm "ED" or "Ed", no
// carriage returns and a printable trusted comment. The last newline may be
// missing; nothing may follow it.
func ParseSignature(text []byte) (*Signature, error) {
	if len(text) > MaxSignatureLen {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformedSignature, len(text), MaxSignatureLen)
	}
	lines, err := splitLines(string(text), 4)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedSignature, err)
	}
	s := &Signature{UntrustedComment: lines[0][len(untrustedPrefix):]}
	if err := checkComment(s.UntrustedComment, MaxCommentLen); err != nil {
		return nil, fmt.Errorf("%w: untrusted %w", ErrMalformedSignature, err)
	}
	raw, err := decodeLine(lines[1], signatureLen)
	if err != nil {
		if b, err2 := decodeB64(lines[1]); err2 == nil && len(b) == publicKeyLen {
			return nil, fmt.Errorf("%w: line 2 is a public key, not a signature", ErrMalformedSignature)
		}
		return nil, fmt.Errorf("%w: line 2: %w", ErrMalformedSignature, err)
	}
	switch string(raw[:2]) {
	case algPrehashed:
	case algLegacy:
		s.Legacy = true
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, raw[:2])
	}
	copy(s.KeyID[:], raw[2:10])
	copy(s.Sig[:], raw[10:])
	tc, ok := strings.CutPrefix(lines[2], trustedPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: line 3 does not start with %q", ErrMalformedSignature, trustedPrefix)
	}
	if err := checkTrusted(tc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedSignature, err)
	}
	s.TrustedComment = tc
	g, err := decodeLine(lines[3], 64)
	if err != nil {
		return nil, fmt.Errorf("%w: line 4: %w", ErrMalformedSignature, err)
	}
	copy(s.GlobalSig[:], g)
	return s, nil
}

// ParseTauriSignature parses a Tauri .sig / updater "signature" value the
// way the updater plugin does: strict standard base64 (no whitespace, no
// trailing newline), UTF-8, then a .minisig text.
func ParseTauriSignature(sig string) (*Signature, error) {
	if len(sig) > MaxTauriSignatureLen {
		return nil, fmt.Errorf("%w: tauri signature is %d bytes, limit %d", ErrMalformedSignature, len(sig), MaxTauriSignatureLen)
	}
	text, err := decodeB64(sig)
	if err != nil {
		return nil, fmt.Errorf("%w: tauri signature is not base64 of a .minisig file: %w", ErrMalformedSignature, err)
	}
	if !utf8.Valid(text) {
		return nil, fmt.Errorf("%w: tauri signature does not decode to UTF-8 text", ErrMalformedSignature)
	}
	return ParseSignature(text)
}
