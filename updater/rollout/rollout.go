// Package rollout decides, deterministically, whether a machine is inside a
// staged rollout. The decision depends only on the machine id, the product
// and the version being rolled out, so every server replica (and the client
// itself) reaches the same answer, and a machine never flips in and out of a
// rollout as the percentage grows.
package rollout

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
)

// Buckets is the number of rollout buckets: one bucket is 0.01 %.
const Buckets = 10000

// Bucket returns the machine's bucket in [0, Buckets) for this rollout.
func Bucket(machine, product, version string) int {
	// Length-prefix each part so ("ab","c") and ("a","bc") differ. The
	// message is built on the stack: this runs on every update check.
	var stack [256]byte
	msg := stack[:0]
	for _, s := range [...]string{product, version, machine} {
		msg = binary.BigEndian.AppendUint32(msg, uint32(len(s)))
		msg = append(msg, s...)
	}
	sum := sha256.Sum256(msg)
	return int(binary.BigEndian.Uint64(sum[:8]) % Buckets)
}

// Threshold converts a percentage (0..100, at most two decimals) to the
// number of buckets inside the rollout.
func Threshold(percent float64) int {
	return int(math.Round(percent * 100))
}

// In reports whether the machine is inside a rollout of percent %.
// 100 % includes every machine (even one without an id); 0 % none.
func In(machine, product, version string, percent float64) bool {
	t := Threshold(percent)
	if t >= Buckets {
		return true
	}
	if t <= 0 || machine == "" {
		return false
	}
	return Bucket(machine, product, version) < t
}

// ValidatePercent checks that percent is in [0, 100] with at most two
// decimals (one bucket).
func ValidatePercent(percent float64) error {
	if math.IsNaN(percent) || percent < 0 || percent > 100 {
		return fmt.Errorf("rollout %v%%: must be between 0 and 100", percent)
	}
	if math.Abs(percent*100-math.Round(percent*100)) > 1e-6 {
		return fmt.Errorf("rollout %v%%: at most two decimals (0.01%% steps)", percent)
	}
	return nil
}
