package channel

import (
	"errors"
	"strings"
	"testing"
)

const testPub = "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3"

func TestKeysParse(t *testing.T) {
	ok := "keys:\n  myapp:\n    - " + testPub + "\nproducts:\n  myapp:\n    stable:\n      version: 1.2.3\n"
	f, err := Parse([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if pks, err := f.TrustedKeys("myapp"); err != nil || len(pks) != 1 {
		t.Fatalf("TrustedKeys = %v, %v", pks, err)
	}
	if pks, err := f.TrustedKeys("agent"); err != nil || pks != nil {
		t.Fatalf("a product without keys: %v, %v", pks, err)
	}
	out, err := f.Marshal()
	if err != nil || !strings.Contains(string(out), "keys:\n  myapp:\n    - "+testPub) {
		t.Fatalf("marshal:\n%s %v", out, err)
	}
	for name, doc := range map[string]string{
		"not a key":       "keys:\n  myapp: [nope]\n",
		"no key":          "keys:\n  myapp: []\n",
		"twice":           "keys:\n  myapp: [" + testPub + ", " + testPub + "]\n",
		"bad product":     "keys:\n  My_App: [" + testPub + "]\n",
		"not a list":      "keys:\n  myapp: " + testPub + "\n",
		"too many":        "keys:\n  myapp: [" + strings.Repeat(testPub+", ", MaxKeys) + testPub + "]\n",
		"unknown section": "trust:\n  myapp: [" + testPub + "]\n",
	} {
		if _, err := Parse([]byte(doc)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
