package inventory

import "strings"

// junkSerial reports placeholder serials that firmware vendors ship; sending
// them would make unrelated machines share a fingerprint.
func junkSerial(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "0", "none", "n/a", "na", "default string", "to be filled by o.e.m.", "system serial number",
		"not specified", "not applicable", "0123456789", "123456789", "serial", "unknown":
		return true
	}
	return false
}
