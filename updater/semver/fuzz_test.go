package semver

import "testing"

// FuzzParse: Parse never panics, a parsed version prints back to itself
// (Parse(v.String()) == v) and compares equal to itself. Seeds: testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"1.2.3", "0.0.0-rc.1+build.5", "1.0.0-alpha.beta.1", "01.2.3", "1.2", "v1.2.3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse(s)
		if err != nil {
			_, _ = ParseTauri(s)
			return
		}
		back, err := Parse(v.String())
		if err != nil || Compare(v, back) != 0 || back.String() != v.String() {
			t.Fatalf("%q -> %q does not round-trip: %v", s, v.String(), err)
		}
		if Compare(v, v) != 0 || Less(s, s) {
			t.Fatalf("%q is not equal to itself", s)
		}
	})
}
