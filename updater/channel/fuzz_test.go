package channel

import (
	"bytes"
	"testing"
)

// FuzzParse: the channels file parser never panics, and a file it accepts
// marshals to a file it accepts again, unchanged. Seeds:
// testdata/fuzz/FuzzParse and the golden file.
func FuzzParse(f *testing.F) {
	f.Add([]byte("products:\n  agent:\n    stable:\n      version: 1.2.3\n      rollout: 50\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		out, err := file.Marshal()
		if err != nil {
			t.Fatalf("accepted file does not marshal: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("marshalled file is refused: %v\n%s", err, out)
		}
		out2, err := again.Marshal()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("marshal is not stable: %v\n%s\n---\n%s", err, out, out2)
		}
	})
}
