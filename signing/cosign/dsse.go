package cosign

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore/pkg/signature/options"

	"github.com/slipwayhq/slipway/signing"
)

// InTotoPayloadType is the DSSE payload type of in-toto statements.
const InTotoPayloadType = "application/vnd.in-toto+json"

// MaxEnvelope bounds a DSSE envelope read back for verification.
const MaxEnvelope = 4 << 20

// SignDSSE signs payload as a DSSE envelope (the format of
// `cosign attest-blob`, which `cosign verify-blob-attestation --key
// --signature` checks) and returns the envelope JSON on one line.
func (s *Signer) SignDSSE(ctx context.Context, payloadType string, payload []byte) ([]byte, error) {
	sig, err := s.key.sv.SignMessage(bytes.NewReader(dsse.PAE(payloadType, payload)), options.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("cosign dsse: %w", err)
	}
	env := dsse.Envelope{
		PayloadType: payloadType,
		Payload:     base64.StdEncoding.EncodeToString(payload),
		Signatures:  []dsse.Signature{{Sig: base64.StdEncoding.EncodeToString(sig)}},
	}
	return json.Marshal(env)
}

// VerifyDSSE checks a DSSE envelope signed by this verifier's key and
// returns its payload type and payload.
func (v *Verifier) VerifyDSSE(envelope []byte) (string, []byte, error) {
	if len(envelope) > MaxEnvelope {
		return "", nil, fmt.Errorf("%w: envelope over %d bytes", signing.ErrBadSignature, MaxEnvelope)
	}
	var env dsse.Envelope
	dec := json.NewDecoder(bytes.NewReader(envelope))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return "", nil, fmt.Errorf("%w: envelope: %w", signing.ErrBadSignature, err)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil || env.PayloadType == "" || len(env.Signatures) == 0 {
		return "", nil, fmt.Errorf("%w: envelope has no payload, type or signature", signing.ErrBadSignature)
	}
	pae := dsse.PAE(env.PayloadType, payload)
	var errs []error
	for _, s := range env.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err == nil {
			err = v.sv.VerifySignature(bytes.NewReader(sig), bytes.NewReader(pae))
		}
		if err == nil {
			return env.PayloadType, payload, nil
		}
		errs = append(errs, err)
	}
	return "", nil, fmt.Errorf("%w: %w", signing.ErrBadSignature, errors.Join(errs...))
}

// SignBlob signs data (hashed with SHA-256) and returns the DER signature:
// what cosign puts, base64-encoded, in an image signature's annotation.
func (s *Signer) SignBlob(ctx context.Context, data []byte) ([]byte, error) {
	sig, err := s.key.sv.SignMessage(bytes.NewReader(data), options.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("cosign sign: %w", err)
	}
	return sig, nil
}
