package release

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/slipwayhq/slipway/storage"
	"github.com/slipwayhq/slipway/storage/fs"
)

func TestGetRecord(t *testing.T) {
	st, err := fs.New(t.TempDir(), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	good, err := json.Marshal(Record{Product: "agent", Version: "1.2.3", Artifacts: []Artifact{{Name: "a.tar.gz", Size: 1, SHA256: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		body []byte
		ok   bool
	}{
		{"valid", good, true},
		{"garbage", []byte("\x00\xffnot json"), false},
		{"truncated", good[:len(good)/2], false},
		{"trailing data", append(append([]byte{}, good...), "{}"...), false},
		{"wrong type", []byte(`{"product":1}`), false},
		{"oversize", append([]byte(`{"product":"`), bytes.Repeat([]byte("a"), maxRecordSize)...), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := Key("", "agent", "1.2.3", RecordName)
			if err := st.Put(t.Context(), key, bytes.NewReader(tc.body), int64(len(tc.body)), "application/json"); err != nil {
				t.Fatal(err)
			}
			rec, err := GetRecord(t.Context(), st, key)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && (rec.Product != "agent" || len(rec.Artifacts) != 1) {
				t.Errorf("record = %+v", rec)
			}
		})
	}
	if _, err := GetRecord(t.Context(), st, Key("", "agent", "9.9.9", RecordName)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("missing record: err = %v, want ErrNotFound", err)
	}
}

func TestConfigProducts(t *testing.T) {
	got, err := configProducts("..")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"agent", "desktop"}) {
		t.Errorf("products of .goreleaser.yaml = %v", got)
	}
	tests := map[string]string{
		"garbage":     "\t:: [",
		"no archives": "version: 2\nproject_name: x\n",
		"bad id":      "archives:\n  - id: ../x\n",
		"oversize":    "# " + string(bytes.Repeat([]byte("a"), maxConfigSize)),
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, ".goreleaser.yaml"), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			if p, err := configProducts(dir); err == nil {
				t.Errorf("accepted, products %v", p)
			}
		})
	}
}
