package pkgversion

import (
	"errors"
	"testing"
)

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"127.0", "128", -1},
		{"128.0.1", "128", 1},
		{"128", "128", 0},
		{"1.10", "1.9", 1},
		{"1.010", "1.10", 0},
		{"2:1.0", "1:9.9", 1},
		{"1.0~rc1", "1.0", -1},
		{"1.0~rc1", "1.0~rc2", -1},
		{"1.0a", "1.0", 1},
		{"1.0a", "1.0b", -1},
		{"1.0.0-1ubuntu1", "1.0.0-1", 1},
		{"125.0.6422.113", "125.0.6422.112", 1},
		{"10.0.22631.3737", "10.0.19045.1", 1},
		{"3.0.13-1~deb12u1", "3.0.14", -1},
		{"1.2a", "1.2.1", -1}, // letters before digits
		{"", "0.1", -1},
		{"abc", "abc", 0},
		{"99999999999999999999999", "99999999999999999999998", 1},
	} {
		if got := Compare(tc.a, tc.b); got != tc.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := Compare(tc.b, tc.a); got != -tc.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, name string
		cons     []Constraint
		match    map[string]bool
	}{
		{"firefox < 128", "firefox", []Constraint{{"<", "128"}}, map[string]bool{"127.0.2": true, "128.0": false, "1:1": false}},
		{"Google Chrome>=115,<126", "Google Chrome", []Constraint{{">=", "115"}, {"<", "126"}},
			map[string]bool{"125.0.6422.113": true, "126": false, "114.9": false}},
		{"openssl != 3.0.14", "openssl", []Constraint{{"!=", "3.0.14"}}, map[string]bool{"3.0.13": true, "3.0.14": false}},
		{"  bash  ", "bash", nil, map[string]bool{"anything": true}},
		{"curl = 7.88.1", "curl", []Constraint{{"=", "7.88.1"}}, map[string]bool{"7.88.1": true, "7.88.01": true, "7.88": false}},
	} {
		q, err := Parse(tc.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.in, err)
		}
		if q.Name != tc.name || len(q.Constraints) != len(tc.cons) {
			t.Fatalf("Parse(%q) = %+v", tc.in, q)
		}
		for i, c := range tc.cons {
			if q.Constraints[i] != c {
				t.Errorf("Parse(%q) constraint %d = %v, want %v", tc.in, i, q.Constraints[i], c)
			}
		}
		for v, want := range tc.match {
			if q.Match(v) != want {
				t.Errorf("%q matches %q = %v", tc.in, v, !want)
			}
		}
	}
	long := make([]byte, MaxQuery+1)
	for i := range long {
		long[i] = 'a'
	}
	for _, bad := range []string{"", "  ", "< 128", "firefox <", "firefox << 1", "firefox < 1 2",
		"x <1,<2,<3,<4,<5", string(long), "firefox !1"} {
		if _, err := Parse(bad); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %v, want ErrSyntax", bad, err)
		}
	}
}
