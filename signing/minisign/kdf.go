package minisign

import (
	"fmt"

	"golang.org/x/crypto/scrypt"
)

// KDF cost limits and defaults. A key file names its scrypt cost as
// libsodium's (opslimit, memlimit); these bound what a key may demand.
const (
	// DefaultOpsLimit and DefaultMemLimit are rust-minisign's (and so
	// Tauri's) defaults: scrypt N=2^15, r=8, p=1 (32 MiB).
	DefaultOpsLimit = 1 << 20
	DefaultMemLimit = 1 << 25
	// SensitiveOpsLimit and SensitiveMemLimit are C minisign's defaults
	// (libsodium's _SENSITIVE): N=2^20, r=8, p=1 (1 GiB, seconds to derive).
	SensitiveOpsLimit = 1 << 25
	SensitiveMemLimit = 1 << 30

	maxMemLimit = 1 << 30 // rust-minisign MEMLIMIT_MAX
	maxNLog2    = 20      // rust-minisign N_LOG2_MAX
	maxP        = 16      // bounds CPU time: the tools write p=1
)

// scryptParams maps libsodium's (opslimit, memlimit) to scrypt's (N, r, p)
// exactly as libsodium's pickparams() in
// crypto_pwhash/scryptsalsa208sha256/pwhash_scryptsalsa208sha256.c does (and
// rust-minisign's raw_scrypt_params, which copies it).
func scryptParams(opslimit, memlimit uint64) (nLog2 uint, r, p int, err error) {
	if memlimit > maxMemLimit {
		return 0, 0, 0, fmt.Errorf("%w: memlimit %d > %d", ErrKDFTooExpensive, memlimit, uint64(maxMemLimit))
	}
	if opslimit < 32768 {
		opslimit = 32768
	}
	const rr = 8
	// Two regimes, as in libsodium: when the ops budget is the tighter
	// limit, N follows opslimit with p=1; otherwise N follows memlimit and
	// the remaining ops budget goes into p.
	opsBound := opslimit < memlimit/32
	maxN := memlimit / (rr * 128)
	if opsBound {
		maxN = opslimit / (rr * 4)
	}
	for nLog2 = 1; nLog2 < 63; nLog2++ {
		if uint64(1)<<nLog2 > maxN/2 {
			break
		}
	}
	p = 1
	if !opsBound {
		maxrp := (opslimit / 4) / (uint64(1) << nLog2)
		if maxrp > 0x3fffffff {
			maxrp = 0x3fffffff
		}
		p = int(uint32(maxrp) / rr)
	}
	if nLog2 > maxNLog2 || p > maxP {
		return 0, 0, 0, fmt.Errorf("%w: N=2^%d p=%d", ErrKDFTooExpensive, nLog2, p)
	}
	if p < 1 {
		return 0, 0, 0, fmt.Errorf("%w: scrypt p=0 from opslimit %d memlimit %d", ErrMalformedKey, opslimit, memlimit)
	}
	return nLog2, rr, p, nil
}

// kdfStream derives the keystream that is XORed with key_id||sk||checksum.
func kdfStream(password, salt []byte, opslimit, memlimit uint64) ([]byte, error) {
	nLog2, r, p, err := scryptParams(opslimit, memlimit)
	if err != nil {
		return nil, err
	}
	out, err := scrypt.Key(password, salt, 1<<nLog2, r, p, keynumSKLen)
	if err != nil {
		return nil, fmt.Errorf("scrypt: %w", err)
	}
	return out, nil
}
