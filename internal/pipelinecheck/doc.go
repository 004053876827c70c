// Package pipelinecheck holds the root module's checks of the Dagger module
// in pipeline/ (a separate Go module, so `go test ./...` never builds it):
// dagger.json has the fields the engine needs, and the module type-checks
// against the dagger.io/dagger v0.19.7 SDK. No Dagger engine is needed; see
// docs/pipeline.md for what that does and does not prove.
package pipelinecheck
