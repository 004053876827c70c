package machineapi

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// PathSoftware is where a machine uploads its full software list.
const PathSoftware = "/api/machines/software"

// Limits of a software upload: MaxSoftwareItems entries (an agent with
// more sends its first MaxSoftwareItems in sorted order and sets
// Truncated), MaxSoftwareUploadBytes gzip-compressed, MaxSoftwareJSONBytes
// once decompressed. The server refuses larger uploads whole.
const (
	MaxSoftwareItems       = 10000
	MaxSoftwareUploadBytes = 4 << 20
	MaxSoftwareJSONBytes   = 16 << 20
)

// SoftwareItem is one installed program. Source names the package system
// like osquery's tables: deb_packages, rpm_packages, apk_packages, apps
// (macOS), programs (Windows), homebrew_packages, ...
type SoftwareItem struct {
	Name        string     `json:"name"`
	Version     string     `json:"version"`
	Source      string     `json:"source"`
	Vendor      string     `json:"vendor,omitempty"`
	BundleID    string     `json:"bundleId,omitempty"`
	Path        string     `json:"path,omitempty"`
	InstalledAt *time.Time `json:"installedAt,omitempty"`
}

// SoftwareUpload is the body of POST /api/machines/software, sent
// gzip-compressed (Content-Encoding: gzip). Hash must be
// SoftwareHash(Software): a list cut short in transit is refused.
type SoftwareUpload struct {
	Hash      string         `json:"hash"`
	Truncated bool           `json:"truncated,omitempty"`
	Software  []SoftwareItem `json:"software"`
}

// SoftwareUploadResponse says what the upload changed.
type SoftwareUploadResponse struct {
	Hash      string `json:"hash"`
	Stored    int    `json:"stored"`
	Installed int    `json:"installed"`
	Removed   int    `json:"removed"`
}

// SortSoftware orders a list canonically (source, name, version, bundle
// ID, path), in place.
func SortSoftware(items []SoftwareItem) {
	slices.SortStableFunc(items, func(a, b SoftwareItem) int {
		return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version),
			cmp.Compare(a.BundleID, b.BundleID), cmp.Compare(a.Path, b.Path))
	})
}

// SoftwareHash is the hash a heartbeat carries: "sha256:" and the hex
// SHA-256 of the canonically sorted list's JSON. Order does not matter.
func SoftwareHash(items []SoftwareItem) string {
	sorted := slices.Clone(items)
	for i := range sorted {
		if t := sorted[i].InstalledAt; t != nil {
			u := t.UTC().Truncate(time.Second)
			sorted[i].InstalledAt = &u
		}
	}
	SortSoftware(sorted)
	if sorted == nil {
		sorted = []SoftwareItem{}
	}
	b, _ := json.Marshal(sorted) // plain strings and times: cannot fail
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// gzipJSON is a request body already encoded and compressed.
type gzipJSON []byte

// GzipJSON encodes v as gzip-compressed JSON.
func GzipJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(v); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// UploadSoftware sends the full software list, gzip-compressed.
func (c *Client) UploadSoftware(ctx context.Context, token string, up SoftwareUpload) (*SoftwareUploadResponse, error) {
	body, err := GzipJSON(up)
	if err != nil {
		return nil, fmt.Errorf("upload software: encode: %w", err)
	}
	if len(body) > MaxSoftwareUploadBytes {
		return nil, fmt.Errorf("upload software: %d compressed bytes, more than %d", len(body), MaxSoftwareUploadBytes)
	}
	var out SoftwareUploadResponse
	if err := c.do(ctx, http.MethodPost, PathSoftware, token, gzipJSON(body), &out); err != nil {
		return nil, err
	}
	return &out, nil
}
