// Package osquery runs `osqueryi --json` and parses its output (SPEC.md §5):
// a JSON array of rows where every value is a string, keys are sorted and
// SQL NULL is the empty string.
package osquery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strconv"
	"time"
)

// Limits on what we accept from osqueryi.
const (
	MaxOutputBytes = 4 << 20
	MaxRows        = 4096
	MaxValueBytes  = 64 << 10
)

// ErrNotInstalled: no osqueryi binary was found.
var ErrNotInstalled = errors.New("osqueryi not installed")

// ErrFormat: the output is not the osqueryi --json format.
var ErrFormat = errors.New("osqueryi output")

// Row is one result row: column name → string value ("" for NULL).
type Row map[string]string

// Find returns the osqueryi path from PATH or the standard install locations.
func Find() (string, error) {
	if p, err := exec.LookPath("osqueryi"); err == nil {
		return p, nil
	}
	for _, p := range knownPaths() {
		if _, err := exec.LookPath(p); err == nil {
			return p, nil
		}
	}
	return "", ErrNotInstalled
}

func knownPaths() []string {
	switch runtime.GOOS {
	case "darwin":
		return []string{"/usr/local/bin/osqueryi"}
	case "windows":
		return []string{`C:\Program Files\osquery\osqueryi.exe`}
	default:
		return []string{"/usr/bin/osqueryi", "/opt/osquery/bin/osqueryi"}
	}
}

// Limits bound one query's output; zero fields take the package defaults
// (MaxOutputBytes, MaxRows).
type Limits struct {
	OutputBytes int
	Rows        int
}

func (l Limits) orDefault() Limits {
	if l.OutputBytes <= 0 {
		l.OutputBytes = MaxOutputBytes
	}
	if l.Rows <= 0 {
		l.Rows = MaxRows
	}
	return l
}

// Query runs one SQL statement with osqueryi --json, bounded by ctx.
func Query(ctx context.Context, bin, sql string) ([]Row, error) {
	return QueryLimits(ctx, bin, sql, Limits{})
}

// QueryLimits is Query with other limits (the software tables are longer
// than the hardware ones).
func QueryLimits(ctx context.Context, bin, sql string, lim Limits) ([]Row, error) {
	lim = lim.orDefault()
	cmd := exec.CommandContext(ctx, bin, "--json", sql)
	var out limitedBuffer
	out.max = lim.OutputBytes
	cmd.Stdout = &out
	cmd.Stderr = nil
	cmd.WaitDelay = time.Second // a child holding stdout open must not outlive ctx
	if err := cmd.Run(); err != nil {
		if out.over {
			return nil, fmt.Errorf("%w: over %d bytes", ErrFormat, lim.OutputBytes)
		}
		return nil, fmt.Errorf("osqueryi %q: %w", sql, err)
	}
	return ParseLimits(out.Bytes(), lim)
}

// Parse decodes osqueryi --json output. Any value that is not a JSON string,
// any row that is not an object, and oversize input are errors.
func Parse(data []byte) ([]Row, error) { return ParseLimits(data, Limits{}) }

// ParseLimits is Parse with other limits.
func ParseLimits(data []byte, lim Limits) ([]Row, error) {
	lim = lim.orDefault()
	if len(data) > lim.OutputBytes {
		return nil, fmt.Errorf("%w: over %d bytes", ErrFormat, lim.OutputBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var raw []map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrFormat)
	}
	if len(raw) > lim.Rows {
		return nil, fmt.Errorf("%w: %d rows (max %d)", ErrFormat, len(raw), lim.Rows)
	}
	rows := make([]Row, 0, len(raw))
	for i, r := range raw {
		if r == nil {
			return nil, fmt.Errorf("%w: row %d is null", ErrFormat, i)
		}
		row := make(Row, len(r))
		for k, v := range r {
			var s string
			if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &s) != nil {
				return nil, fmt.Errorf("%w: row %d column %q: value is not a string", ErrFormat, i, k)
			}
			if len(s) > MaxValueBytes {
				return nil, fmt.Errorf("%w: row %d column %q: value over %d bytes", ErrFormat, i, k, MaxValueBytes)
			}
			row[k] = s
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// Int returns a column as an integer; ok is false for NULL ("") or garbage.
func (r Row) Int(col string) (int64, bool) {
	v := r[col]
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

type limitedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		b.over = true
		return 0, errors.New("output limit exceeded")
	}
	return b.Buffer.Write(p)
}
