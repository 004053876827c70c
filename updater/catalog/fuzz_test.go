package catalog

import (
	"encoding/json"
	"testing"
)

// FuzzParse: the release record parser never panics, and a record it
// accepts encodes to one it accepts again. Seeds: testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"product":"agent","version":"1.2.3","date":"2026-01-02T03:04:05Z","artifacts":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := Parse(data)
		if err != nil {
			return
		}
		out, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("re-encoded record refused: %v\n%s", err, out)
		}
	})
}
