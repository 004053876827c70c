//go:build slipway_typecheck

// This file exists only for `go vet -tags slipway_typecheck ./...` on a
// checkout without Dagger's generated code (see internal/dagger/typecheck.go
// and docs/pipeline.md). `dagger develop` generates dagger.gen.go, which
// declares the real `dag` client and `main` (the module's entrypoint); never
// use the tag where generated files exist.

package main

import "dagger/slipway/internal/dagger"

var dag *dagger.Client

func main() {}
