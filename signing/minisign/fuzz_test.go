package minisign

import (
	"bytes"
	"testing"
)

// FuzzParsePublicKey: never panics. Seeds: testdata/fuzz/FuzzParsePublicKey.
func FuzzParsePublicKey(f *testing.F) {
	f.Add([]byte("untrusted comment: minisign public key 861E844EDF8CD4EC\nRWTs1IzfToQehlYMjCaRKoZkNE4dF4cxKqTlNe8CbbNIB7zjN3ZBavf7\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParsePublicKey(data)
	})
}

// FuzzParseSignature: never panics, and an accepted signature encodes to
// one that parses to the same encoding. Seeds: testdata/fuzz/FuzzParseSignature.
func FuzzParseSignature(f *testing.F) {
	f.Add([]byte("untrusted comment: signature from tauri secret key\nRUTs1IzfToQehsx2Bew1gWrx5LvyFcT0MQYOc8oJN+Cuxjv8Sm8BCrSiXEEpCZD3kyyz33ABaqOY4oyk4UNyQdZ5UnarMPH+uwA=\ntrusted comment: timestamp:1718000000\tfile:MyApp_1.2.3_amd64.deb\tversion:1.2.3\ndD3yuFGb42gYOGw1EqznYd9MA7KWHIEeueIs0kzAMMBaEd42mW3qVaSoZoKzKhODmFI+zsB7NeHkyggcDBheBg==\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sig, err := ParseSignature(data)
		if err != nil {
			return
		}
		enc := sig.Encode()
		again, err := ParseSignature(enc)
		if err != nil || !bytes.Equal(again.Encode(), enc) {
			t.Fatalf("encoded signature does not round-trip: %v\n%s", err, enc)
		}
	})
}

// FuzzParseTauriSignature: the base64-wrapped form Tauri uses never panics.
func FuzzParseTauriSignature(f *testing.F) {
	f.Add("dW50cnVzdGVkIGNvbW1lbnQ6IHg=")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseTauriSignature(s)
	})
}
