//go:build tools

// Package tools pins the quill CLI, which the macOS signing tests use as an
// independent parser of Slipway's Mach-O signatures. It cannot be installed
// with `go install` because its go.mod has replace directives.
package tools

import _ "github.com/anchore/quill/cmd/quill"
