// Package packaging holds the OS integration files of Slipway's packages:
// packaging/linux (installed by the nfpm packages GoReleaser builds) and
// packaging/macos (the agent's launchd daemon and its install scripts,
// which the release's macos step writes into the agent's launchd archive
// and .pkg).
package packaging

import "embed"

// MacOS holds macos/slipway-agent.plist, macos/install.sh and
// macos/uninstall.sh.
//
//go:embed macos/slipway-agent.plist macos/install.sh macos/uninstall.sh
var MacOS embed.FS

// MacOSPostinstall is the macOS package's postinstall script: it finds the
// enrollment settings an MDM provides and runs install.sh.
//
//go:embed macos/postinstall
var MacOSPostinstall []byte
