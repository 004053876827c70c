// Package fingerprint derives a stable machine fingerprint from hardware
// identifiers, so re-registering the same hardware finds the same machine.
package fingerprint

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"slices"
	"strings"
)

// Identifiers are the stable identifiers a machine reports.
type Identifiers struct {
	SerialNumbers []string
	MachineID     string // OS machine UUID
	MACAddresses  []string
}

// placeholder serials firmware reports when it has none.
var placeholders = map[string]bool{
	"": true, "-1": true, "0": true, "NONE": true, "N/A": true, "NA": true, "UNKNOWN": true,
	"DEFAULT STRING": true, "TO BE FILLED BY O.E.M.": true, "SYSTEM SERIAL NUMBER": true,
	"0123456789": true, "NOT SPECIFIED": true, "NOT APPLICABLE": true,
}

// Serial normalises a serial number: trimmed, upper case; "" for placeholders.
func Serial(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if placeholders[s] {
		return ""
	}
	return s
}

// UUID normalises a machine UUID: lower case, no braces; "" for all-zero or
// all-F placeholder values.
func UUID(s string) string {
	s = strings.ToLower(strings.Trim(strings.TrimSpace(s), "{}"))
	if strings.Trim(s, "0-") == "" || strings.Trim(s, "f-") == "" {
		return ""
	}
	return s
}

// MAC normalises a MAC address to lower-case colon form; "" when it is not a
// 48-bit unicast, globally administered address (those change or are shared).
func MAC(s string) string {
	hw, err := net.ParseMAC(strings.TrimSpace(s))
	if err != nil || len(hw) != 6 || hw[0]&0x03 != 0 || allZero(hw) {
		return ""
	}
	return hw.String()
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Normalize returns sorted, de-duplicated normalised identifiers.
func Normalize(id Identifiers) Identifiers {
	return Identifiers{
		SerialNumbers: clean(id.SerialNumbers, Serial),
		MachineID:     UUID(id.MachineID),
		MACAddresses:  clean(id.MACAddresses, MAC),
	}
}

func clean(in []string, norm func(string) string) []string {
	out := []string{}
	for _, v := range in {
		if v = norm(v); v != "" {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Compute returns the fingerprint of normalised identifiers, preferring the
// most stable source available: serial numbers, then the machine UUID, then
// MAC addresses. It returns "" when there is nothing stable to go on.
func Compute(id Identifiers) string {
	n := Normalize(id)
	var basis string
	switch {
	case len(n.SerialNumbers) > 0:
		basis = "serial:" + strings.Join(n.SerialNumbers, ",")
	case n.MachineID != "":
		basis = "uuid:" + n.MachineID
	case len(n.MACAddresses) > 0:
		basis = "mac:" + strings.Join(n.MACAddresses, ",")
	default:
		return ""
	}
	sum := sha256.Sum256([]byte(basis))
	return hex.EncodeToString(sum[:])
}
