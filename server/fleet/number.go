package fleet

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
)

// Int is an integer field. Fleet's REST API sends JSON numbers, but values
// relayed from osquery (and hand-made payloads built from osqueryi --json)
// are strings, with "" for NULL; both are accepted, and "", null and a
// missing key read as 0.
type Int int64

// UnmarshalJSON accepts a number, a numeric string, "" or null.
func (n *Int) UnmarshalJSON(b []byte) error {
	s, err := numberText(b)
	if err != nil {
		return typeError(b, reflect.TypeFor[int64]())
	}
	if s == "" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// osquery sometimes prints integral BIGINTs as "1.0e+10"-like floats.
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != float64(int64(f)) {
			return typeError(b, reflect.TypeFor[int64]())
		}
		v = int64(f)
	}
	*n = Int(v)
	return nil
}

// Float is a decimal field, accepted like Int.
type Float float64

// UnmarshalJSON accepts a number, a numeric string, "" or null.
func (f *Float) UnmarshalJSON(b []byte) error {
	s, err := numberText(b)
	if err != nil {
		return typeError(b, reflect.TypeFor[float64]())
	}
	if s == "" {
		*f = 0
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return typeError(b, reflect.TypeFor[float64]())
	}
	*f = Float(v)
	return nil
}

// badNumberField names the top-level Int or Float field of a host object
// whose value does not parse. Go 1.26's decoder put the field's name into
// the *json.UnmarshalTypeError an UnmarshalJSON method returns; go1.27's
// leaves it empty, so it is found here (only on the error path).
func badNumberField(raw []byte) string {
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil {
		return "body"
	}
	ht := reflect.TypeFor[Host]()
	for i := range ht.NumField() {
		f := ht.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		v, ok := top[name]
		if !ok || (f.Type != reflect.TypeFor[Int]() && f.Type != reflect.TypeFor[Float]()) {
			continue
		}
		if json.Unmarshal(v, reflect.New(f.Type).Interface()) != nil {
			return name
		}
	}
	return "body"
}

// typeError is the error encoding/json gives a wrong type (Go 1.26's
// decoder adds the field's name to it).
func typeError(b []byte, t reflect.Type) error {
	v := "string"
	if len(b) > 0 && b[0] != '"' {
		v = "value"
	}
	return &json.UnmarshalTypeError{Value: v, Type: t}
}

// numberText returns the text of a JSON number or string ("" for null).
func numberText(b []byte) (string, error) {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		return "", nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return "", err
		}
		return strings.TrimSpace(s), nil
	case len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')):
		return string(b), nil
	}
	return "", errors.New("must be a number or a numeric string")
}
