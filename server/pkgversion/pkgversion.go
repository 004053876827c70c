// Package pkgversion compares the version strings package systems report
// (dpkg, rpm, macOS bundles, Windows DisplayVersion, semver) and parses the
// searches admins type, such as "firefox < 128" or "openssl >= 3.0, < 3.0.14".
//
// The order is dpkg's, which also fits rpm and most vendors: an optional
// numeric epoch ("1:2.0") first; then the strings are split into runs of
// digits and runs of letters (other characters separate runs); digit runs
// compare as numbers, letter runs as text, a digit run is newer than a
// letter run; when one version runs out, the longer is newer, except that
// a "~" sorts before everything (so 1.0~rc1 < 1.0).
package pkgversion

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// Compare returns -1, 0 or +1 as a is older than, equal to or newer than b.
func Compare(a, b string) int {
	ea, ra := epoch(a)
	eb, rb := epoch(b)
	if c := numCompare(ea, eb); c != 0 {
		return c
	}
	return compareRest(ra, rb)
}

// epoch splits "N:rest" when N is all digits.
func epoch(v string) (string, string) {
	if i := strings.IndexByte(v, ':'); i > 0 && isDigits(v[:i]) {
		return v[:i], v[i+1:]
	}
	return "0", v
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func numCompare(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// next returns the next run of s (digits, letters or a single "~") and
// the rest, skipping separators.
func next(s string) (run string, rest string) {
	s = strings.TrimLeftFunc(s, func(r rune) bool { return r != '~' && !isAlnum(r) })
	if s == "" {
		return "", ""
	}
	if s[0] == '~' {
		return "~", s[1:]
	}
	digit := s[0] >= '0' && s[0] <= '9'
	i := strings.IndexFunc(s, func(r rune) bool { return !isAlnum(r) || (r >= '0' && r <= '9') != digit })
	if i < 0 {
		i = len(s)
	}
	return s[:i], s[i:]
}

func isAlnum(r rune) bool { return unicode.IsLetter(r) || (r >= '0' && r <= '9') }

func compareRest(a, b string) int {
	for {
		ra, resta := next(a)
		rb, restb := next(b)
		switch {
		case ra == "" && rb == "":
			return 0
		case ra == "~" && rb != "~":
			return -1
		case rb == "~" && ra != "~":
			return 1
		case ra == "":
			return -1
		case rb == "":
			return 1
		}
		da, db := ra[0] >= '0' && ra[0] <= '9', rb[0] >= '0' && rb[0] <= '9'
		var c int
		switch {
		case da && db:
			c = numCompare(ra, rb)
		case da:
			c = 1
		case db:
			c = -1
		default:
			c = strings.Compare(ra, rb)
		}
		if c != 0 {
			return c
		}
		a, b = resta, restb
	}
}

// Constraint is one comparison, such as "< 128".
type Constraint struct {
	Op      string // <, <=, >, >=, =, !=
	Version string
}

// Match reports whether v satisfies the constraint.
func (c Constraint) Match(v string) bool {
	r := Compare(v, c.Version)
	switch c.Op {
	case "<":
		return r < 0
	case "<=":
		return r <= 0
	case ">":
		return r > 0
	case ">=":
		return r >= 0
	case "!=":
		return r != 0
	default:
		return r == 0
	}
}

func (c Constraint) String() string { return c.Op + " " + c.Version }

// Query is a parsed search: a name and constraints that must all hold.
type Query struct {
	Name        string
	Constraints []Constraint
}

// Match reports whether v satisfies every constraint.
func (q Query) Match(v string) bool {
	for _, c := range q.Constraints {
		if !c.Match(v) {
			return false
		}
	}
	return true
}

// Limits of a query.
const (
	MaxQuery       = 300
	MaxConstraints = 4
)

// ErrSyntax is returned for an unreadable query.
var ErrSyntax = errors.New("pkgversion: bad query")

var ops = []string{"<=", ">=", "!=", "<", ">", "="}

// Parse reads "name", "name < 128", "name >= 115, < 128", "name = 1.2".
func Parse(s string) (Query, error) {
	if len(s) > MaxQuery {
		return Query{}, fmt.Errorf("%w: longer than %d bytes", ErrSyntax, MaxQuery)
	}
	i := strings.IndexAny(s, "<>=!")
	if i < 0 {
		i = len(s)
	}
	q := Query{Name: strings.TrimSpace(s[:i])}
	if q.Name == "" {
		return Query{}, fmt.Errorf("%w: a software name is required", ErrSyntax)
	}
	if i == len(s) {
		return q, nil
	}
	parts := strings.Split(s[i:], ",")
	if len(parts) > MaxConstraints {
		return Query{}, fmt.Errorf("%w: at most %d comparisons", ErrSyntax, MaxConstraints)
	}
	for _, p := range parts {
		c, err := parseConstraint(strings.TrimSpace(p))
		if err != nil {
			return Query{}, err
		}
		q.Constraints = append(q.Constraints, c)
	}
	return q, nil
}

func parseConstraint(p string) (Constraint, error) {
	for _, op := range ops {
		if v, ok := strings.CutPrefix(p, op); ok {
			v = strings.TrimSpace(v)
			if v == "" || strings.ContainsAny(v, "<>=!, \t") {
				return Constraint{}, fmt.Errorf("%w: %q needs one version after %s", ErrSyntax, p, op)
			}
			return Constraint{Op: op, Version: v}, nil
		}
	}
	return Constraint{}, fmt.Errorf("%w: %q does not start with <, <=, >, >=, = or !=", ErrSyntax, p)
}
