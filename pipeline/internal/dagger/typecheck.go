//go:build slipway_typecheck

// Package dagger is, in a real module, the API bindings that `dagger develop`
// generates from the engine's schema (git-ignored, as Dagger intends). This
// file is NOT those bindings: under the slipway_typecheck tag it aliases the
// same-named types of the published Go SDK, dagger.io/dagger v0.19.7 (whose
// client is generated from the same v0.19.7 schema), so that the module can
// be type-checked without a Dagger engine. It runs nothing.
package dagger

import sdk "dagger.io/dagger"

// The v0.19.7 API types the module uses.
type (
	Client                         = sdk.Client
	Container                      = sdk.Container
	Directory                      = sdk.Directory
	File                           = sdk.File
	Secret                         = sdk.Secret
	CacheVolume                    = sdk.CacheVolume
	ContainerWithExecOpts          = sdk.ContainerWithExecOpts
	ContainerWithMountedSecretOpts = sdk.ContainerWithMountedSecretOpts
	ContainerWithMountedCacheOpts  = sdk.ContainerWithMountedCacheOpts
	CacheSharingMode               = sdk.CacheSharingMode
)

// The v0.19.7 API constants the module uses.
const CacheSharingModeLocked = sdk.CacheSharingModeLocked
