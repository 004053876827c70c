package semver

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	good := []string{"1.2.3", "0.0.0", "1.0.0-alpha.1", "1.0.0+build.5", "1.0.0-rc.1+sha.abc", "10.20.30-0A.is.legal"}
	for _, s := range good {
		v, err := Parse(s)
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		if v.String() != s {
			t.Errorf("%s round-trips as %s", s, v)
		}
	}
	bad := []string{"", "1.2", "01.2.3", "V1.2.3", "v1.2.3", "1.2.3-", "1.2.3-01", "1.2.3+", "1..3", "1.2.3.4", "1.2.x", "1.2.3-a_b", "99999999999999999999.0.0"}
	for _, s := range bad {
		if _, err := Parse(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: err = %v, want ErrInvalid", s, err)
		}
	}
	if _, err := ParseTauri("vv1.2.3"); err != nil {
		t.Errorf("tauri strips v: %v", err)
	}
}

func TestCompare(t *testing.T) {
	// Ascending order from semver.org §11, plus build ordering.
	order := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.0+b1", "1.0.0+b2", "1.0.1", "1.1.0", "2.0.0"}
	for i := 1; i < len(order); i++ {
		a, b := MustParse(order[i-1]), MustParse(order[i])
		if Compare(a, b) != -1 || Compare(b, a) != 1 || Compare(a, a) != 0 {
			t.Errorf("%s < %s not respected", order[i-1], order[i])
		}
	}
	if !Less("garbage", "0.0.1") || Less("0.0.1", "garbage") {
		t.Error("unparseable versions must sort first")
	}
}
