package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// decodeJSON reads a size-limited body into v. With strict, unknown fields
// are rejected (our own request types); Fleet payloads are read elsewhere.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	body, err := readBody(w, r, limit)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("body", "a JSON object body is required")
	}
	return unmarshalStrict(body, v)
}

// decodeOptional accepts an empty body or a JSON object for v.
func decodeOptional(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	body, err := readBody(w, r, limit)
	if err != nil || len(bytes.TrimSpace(body)) == 0 {
		return err
	}
	return unmarshalStrict(body, v)
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &Error{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
				Message: "request body exceeds the size limit"}
		}
		return nil, badRequest("body", "could not read the body")
	}
	if !utf8.Valid(body) {
		return nil, badRequest("body", "body is not valid UTF-8")
	}
	return body, nil
}

func unmarshalStrict(body []byte, v any) error {
	if trimmed := bytes.TrimSpace(body); trimmed[0] != '{' {
		return badRequest("body", "body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("body", "unexpected data after the JSON object")
	}
	return nil
}

// jsonError turns a decoding error into a field-level 400.
func jsonError(err error) *Error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return badRequest("body", "truncated JSON")
	case errors.As(err, &se):
		return badRequest("body", "malformed JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		if te.Field == "" {
			return badRequest("body", "body must be a JSON object")
		}
		return badRequest(te.Field, "must be a JSON %s", jsonKind(te.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return badRequest(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown field")
	default:
		return badRequest("body", "invalid JSON")
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "slice", "array":
		return "array"
	case "struct", "map":
		return "object"
	case "bool":
		return "boolean"
	default:
		return "number"
	}
}

// object checks that raw, if present, is a JSON object no larger than max.
func object(field string, raw json.RawMessage, max int) error {
	if raw == nil || string(raw) == "null" {
		return nil
	}
	if len(raw) > max {
		return badRequest(field, "larger than %d bytes", max)
	}
	if raw[0] != '{' {
		return badRequest(field, "must be a JSON object")
	}
	return nil
}

// text checks a string field: required or not, bounded, no control characters.
func text(field, v string, required bool, max int) error {
	if v == "" {
		if required {
			return badRequest(field, "is required")
		}
		return nil
	}
	if len(v) > max {
		return badRequest(field, "longer than %d bytes", max)
	}
	return unsafeText(field, v)
}

// unsafeText refuses text that would mislead where it is shown (the admin
// page, logs, the CLI): invalid UTF-8, control characters (C0, DEL, C1),
// bidirectional controls such as U+202E, which reorder what follows, and
// noncharacters such as U+FFFF.
func unsafeText(field, v string) error {
	if !utf8.ValidString(v) {
		return badRequest(field, "is not valid UTF-8")
	}
	for _, c := range v {
		switch {
		case unicode.IsControl(c):
			return badRequest(field, "contains control characters")
		case unicode.Is(unicode.Bidi_Control, c):
			return badRequest(field, "contains a bidirectional control character (U+%04X), which can disguise text", c)
		case unicode.Is(unicode.Noncharacter_Code_Point, c):
			return badRequest(field, "contains a Unicode noncharacter (U+%04X)", c)
		}
	}
	return nil
}

// texts checks a list of strings.
func texts(field string, vs []string, maxItems, max int) error {
	if len(vs) > maxItems {
		return badRequest(field, "more than %d items", maxItems)
	}
	for i, v := range vs {
		if err := text(field+"["+strconv.Itoa(i)+"]", v, true, max); err != nil {
			return err
		}
	}
	return nil
}
