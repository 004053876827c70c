package fleet

import "testing"

// FuzzParse: the Fleet webhook parser never panics; it returns hosts or an
// error, never both empty. Seeds: testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"hosts":[{"hostname":"h1","hardware_serial":"S1","uuid":"u-1","platform":"darwin","os_version":"macOS 14.5"}]}`))
	f.Add([]byte(`[{"hostname":"h2"}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		hosts, err := Parse(body)
		if err == nil && hosts == nil {
			t.Fatalf("no hosts and no error for %q", body)
		}
	})
}
