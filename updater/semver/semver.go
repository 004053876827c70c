// Package semver parses and orders Semantic Versioning 2.0.0 strings the
// way Tauri's updater does (Rust `semver` crate): strict MAJOR.MINOR.PATCH
// with optional pre-release and build metadata; leading "v"s are stripped
// only by ParseTauri.
package semver

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalid is returned for a string that is not SemVer 2.0.
var ErrInvalid = errors.New("not a semantic version")

// maxLen bounds a version string; nothing legitimate is longer.
const maxLen = 256

// Version is a parsed semantic version.
type Version struct {
	Major, Minor, Patch uint64
	Pre                 []string // dot-separated pre-release identifiers
	Build               []string // dot-separated build metadata
}

// Parse parses a strict SemVer 2.0 string (no leading "v").
func Parse(s string) (Version, error) {
	var v Version
	if s == "" || len(s) > maxLen {
		return v, fmt.Errorf("%q: %w", s, ErrInvalid)
	}
	core := s
	if i := strings.IndexByte(core, '+'); i >= 0 {
		b, err := idents(core[i+1:], false)
		if err != nil {
			return v, fmt.Errorf("%q: build: %w", s, err)
		}
		v.Build, core = b, core[:i]
	}
	if i := strings.IndexByte(core, '-'); i >= 0 {
		p, err := idents(core[i+1:], true)
		if err != nil {
			return v, fmt.Errorf("%q: pre-release: %w", s, err)
		}
		v.Pre, core = p, core[:i]
	}
	// strings.Cut rather than Split: versions are parsed on every update check.
	nums := [3]*uint64{&v.Major, &v.Minor, &v.Patch}
	rest := core
	for i, n := range nums {
		p, tail, found := strings.Cut(rest, ".")
		if found != (i < 2) {
			return v, fmt.Errorf("%q: need MAJOR.MINOR.PATCH: %w", s, ErrInvalid)
		}
		x, err := numeric(p)
		if err != nil {
			return v, fmt.Errorf("%q: %w", s, err)
		}
		*n, rest = x, tail
	}
	return v, nil
}

// ParseTauri parses like Tauri's updater: leading "v"s are trimmed first.
func ParseTauri(s string) (Version, error) {
	return Parse(strings.TrimLeft(s, "v"))
}

// MustParse parses s and panics on error; for constants in tests.
func MustParse(s string) Version {
	v, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

func numeric(p string) (uint64, error) {
	if p == "" || (len(p) > 1 && p[0] == '0') {
		return 0, fmt.Errorf("numeric part %q: %w", p, ErrInvalid)
	}
	for _, c := range p {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("numeric part %q: %w", p, ErrInvalid)
		}
	}
	n, err := strconv.ParseUint(p, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("numeric part %q: %w", p, ErrInvalid)
	}
	return n, nil
}

func idents(s string, pre bool) ([]string, error) {
	ids := strings.Split(s, ".")
	for _, id := range ids {
		if id == "" {
			return nil, fmt.Errorf("empty identifier: %w", ErrInvalid)
		}
		digits := true
		for _, c := range id {
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-':
				digits = false
			default:
				return nil, fmt.Errorf("identifier %q: %w", id, ErrInvalid)
			}
		}
		if pre && digits && len(id) > 1 && id[0] == '0' {
			return nil, fmt.Errorf("identifier %q has a leading zero: %w", id, ErrInvalid)
		}
	}
	return ids, nil
}

// String formats the version canonically.
func (v Version) String() string {
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if len(v.Pre) > 0 {
		s += "-" + strings.Join(v.Pre, ".")
	}
	if len(v.Build) > 0 {
		s += "+" + strings.Join(v.Build, ".")
	}
	return s
}

// Compare orders versions by SemVer precedence, then (like the Rust crate
// Tauri uses) by build metadata. It returns -1, 0 or +1.
func Compare(a, b Version) int {
	for _, d := range [...][2]uint64{{a.Major, b.Major}, {a.Minor, b.Minor}, {a.Patch, b.Patch}} {
		if d[0] != d[1] {
			return cmpInt(d[0], d[1])
		}
	}
	switch {
	case len(a.Pre) == 0 && len(b.Pre) > 0:
		return 1
	case len(a.Pre) > 0 && len(b.Pre) == 0:
		return -1
	}
	if c := compareIdents(a.Pre, b.Pre); c != 0 {
		return c
	}
	return compareIdents(a.Build, b.Build)
}

// Less reports whether a < b (strings that do not parse sort first).
func Less(a, b string) bool {
	va, errA := Parse(a)
	vb, errB := Parse(b)
	switch {
	case errA != nil && errB != nil:
		return a < b
	case errA != nil:
		return true
	case errB != nil:
		return false
	}
	return Compare(va, vb) < 0
}

func compareIdents(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := compareIdent(a[i], b[i]); c != 0 {
			return c
		}
	}
	return cmpInt(uint64(len(a)), uint64(len(b)))
}

func compareIdent(a, b string) int {
	na, errA := strconv.ParseUint(a, 10, 64)
	nb, errB := strconv.ParseUint(b, 10, 64)
	switch {
	case errA == nil && errB == nil:
		return cmpInt(na, nb)
	case errA == nil:
		return -1 // numeric identifiers sort before alphanumeric ones
	case errB == nil:
		return 1
	}
	return strings.Compare(a, b)
}

func cmpInt(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
