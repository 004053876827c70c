package server

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPIRegisterRequestMatchesStruct keeps the documented register
// body in step with the decoder: the same properties, and the client enum
// is exactly what clientKind accepts.
func TestOpenAPIRegisterRequestMatchesStruct(t *testing.T) {
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum []string `json:"enum"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	schema := doc.Components.Schemas["RegisterRequest"]
	var documented, decoded []string
	for name := range schema.Properties {
		documented = append(documented, name)
	}
	rt := reflect.TypeFor[registerRequest]()
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		decoded = append(decoded, name)
	}
	slices.Sort(documented)
	slices.Sort(decoded)
	if !slices.Equal(documented, decoded) {
		t.Fatalf("RegisterRequest properties %v, decoder fields %v", documented, decoded)
	}
	enum := schema.Properties["client"].Enum
	if len(enum) == 0 {
		t.Fatal("client has no enum")
	}
	for _, v := range enum {
		if _, err := clientKind(v); err != nil {
			t.Errorf("documented client %q is rejected: %v", v, err)
		}
	}
	for _, v := range []string{"Agent", "desktop ", "browser", "agent\x00"} {
		if _, err := clientKind(v); err == nil || slices.Contains(enum, v) {
			t.Errorf("client %q: accepted or documented", v)
		}
	}
}
