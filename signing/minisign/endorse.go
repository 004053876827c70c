package minisign

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ErrNotEndorsed: a key endorsement is malformed, for another subject, or
// not signed by any trusted key.
var ErrNotEndorsed = errors.New("minisign: key not endorsed by a trusted key")

// An endorsement is how a release key vouches for its successor during a
// key change: a minisign signature, made with the old secret key, over the
// new public key's line-2 form, whose trusted comment names the new key
// and the subject (a product name) it is endorsed for:
//
//	endorse:<new key base64>\tsubject:<product>\ttimestamp:<unix>
//
// It travels as one line (the Tauri form: base64 of the .minisig text).
// A client that trusts the old key learns the new one only through it, so
// whoever can sign update metadata cannot introduce a release key the
// release key's holder did not endorse.

// Endorse returns the endorsement of next for subject, signed by sk.
func Endorse(sk *SecretKey, subject string, next *PublicKey, now time.Time) (string, error) {
	if next == nil || len(next.Key) == 0 {
		return "", fmt.Errorf("endorse: %w: no public key", ErrMalformedKey)
	}
	tc := "endorse:" + next.String() + "\tsubject:" + subject + "\ttimestamp:" + strconv.FormatInt(now.Unix(), 10)
	sig, err := Sign(sk, bytes.NewReader([]byte(next.String())), SignOptions{TrustedComment: tc, UntrustedComment: "slipway key endorsement"})
	if err != nil {
		return "", fmt.Errorf("endorse: %w", err)
	}
	return sig.Tauri(), nil
}

// EndorsedKey parses an endorsement for subject without checking who
// signed it: the endorsed key and the id of the key that signed.
func EndorsedKey(subject, endorsement string) (*PublicKey, KeyID, error) {
	sig, err := ParseTauriSignature(endorsement)
	if err != nil {
		return nil, KeyID{}, fmt.Errorf("%w: %w", ErrNotEndorsed, err)
	}
	if s, _ := sig.Field("subject"); s != subject {
		return nil, KeyID{}, fmt.Errorf("%w: endorsement is for %q, not %q", ErrNotEndorsed, s, subject)
	}
	text, ok := sig.Field("endorse")
	if !ok {
		return nil, KeyID{}, fmt.Errorf("%w: signature is not an endorsement", ErrNotEndorsed)
	}
	pk, err := ParsePublicKey([]byte(text))
	if err != nil {
		return nil, KeyID{}, fmt.Errorf("%w: %w", ErrNotEndorsed, err)
	}
	return pk, sig.KeyID, nil
}

// VerifyEndorsement checks that endorsement vouches for a key for subject
// and was signed by one of trusted, and returns the endorsed key.
func VerifyEndorsement(trusted []*PublicKey, subject, endorsement string) (*PublicKey, error) {
	pk, signer, err := EndorsedKey(subject, endorsement)
	if err != nil {
		return nil, err
	}
	sig, _ := ParseTauriSignature(endorsement) // parsed above
	for _, t := range trusted {
		if t.ID != signer {
			continue
		}
		if err := Verify(t, bytes.NewReader([]byte(pk.String())), sig); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotEndorsed, err)
		}
		return pk, nil
	}
	return nil, fmt.Errorf("%w: %s endorsed by %s, which is not trusted", ErrNotEndorsed, pk.ID, signer)
}

// EndorsementClosure returns trusted plus every key reachable from it
// through endorsements for subject (a chain old → next → newer is
// followed, in any order). Endorsements that do not verify are ignored.
func EndorsementClosure(trusted []*PublicKey, subject string, endorsements []string) []*PublicKey {
	out := append([]*PublicKey(nil), trusted...)
	for grew := true; grew; {
		grew = false
		for _, e := range endorsements {
			pk, err := VerifyEndorsement(out, subject, e)
			if err != nil || containsKey(out, pk) {
				continue
			}
			out = append(out, pk)
			grew = true
		}
	}
	return out
}

func containsKey(keys []*PublicKey, pk *PublicKey) bool {
	for _, k := range keys {
		if k.ID == pk.ID && bytes.Equal(k.Key, pk.Key) {
			return true
		}
	}
	return false
}
