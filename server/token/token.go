// Package token makes and checks the server's bearer secrets: machine
// tokens, provisioning secrets, admin tokens and handshake codes. Values are
// 256-bit random, carry a recognisable prefix, and are only ever stored as
// their SHA-256 hash.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"
)

// Prefixes that make a leaked value recognisable (and greppable by secret
// scanners).
const (
	Machine      = "swm_" // machine token
	Provisioning = "swp_" // provisioning secret
	Fleet        = "swf_" // Fleet webhook secret
	Admin        = "swa_" // admin token
	Handshake    = "swh_" // browser handshake code
)

// MaxLen bounds any presented secret; longer values are rejected unhashed.
const MaxLen = 512

// New returns a fresh prefixed value and its hash.
func New(prefix string) (value string, hash []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	value = prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return value, Hash(value)
}

// Hash is the stored form of a value.
func Hash(value string) []byte {
	h := sha256.Sum256([]byte(value))
	return h[:]
}

// Equal compares two hashes in constant time.
func Equal(a, b []byte) bool {
	return len(a) == sha256.Size && subtle.ConstantTimeCompare(a, b) == 1
}

// Hint is the non-secret part shown in listings: the prefix and 4 characters.
func Hint(value string) string {
	i := strings.IndexByte(value, '_') + 1
	if i <= 0 || len(value) < i+4 {
		return ""
	}
	return value[:i+4]
}
