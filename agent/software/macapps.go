package software

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"howett.net/plist"
)

// Limits of the macOS application scan.
const (
	maxApps       = 5000
	maxPlistBytes = 1 << 20
)

// Apps reads the Info.plist of every application bundle in Dirs (apps,
// named like osquery's table: the bundle's directory name, "Safari.app").
type Apps struct {
	Dirs []string // default: /Applications, /Applications/Utilities
}

// Name names the source.
func (Apps) Name() string { return "macos-apps" }

// Collect scans the directories; unreadable bundles are skipped.
func (a Apps) Collect(ctx context.Context) ([]Item, error) {
	dirs := a.Dirs
	if dirs == nil {
		dirs = []string{"/Applications", "/Applications/Utilities"}
	}
	var out []Item
	for _, dir := range dirs {
		bundles, err := filepath.Glob(filepath.Join(dir, "*.app"))
		if err != nil {
			return out, err
		}
		for _, b := range bundles {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			if len(out) >= maxApps {
				return out, fmt.Errorf("more than %d applications", maxApps)
			}
			if it, err := readApp(b); err == nil {
				out = append(out, it)
			}
		}
	}
	return out, nil
}

// infoPlist is the part of an Info.plist the agent reads.
type infoPlist struct {
	Identifier   string `plist:"CFBundleIdentifier"`
	ShortVersion string `plist:"CFBundleShortVersionString"`
	Version      string `plist:"CFBundleVersion"`
	Name         string `plist:"CFBundleName"`
}

func readApp(bundle string) (Item, error) {
	f, err := os.Open(filepath.Join(bundle, "Contents", "Info.plist"))
	if err != nil {
		return Item{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPlistBytes+1))
	if err != nil {
		return Item{}, err
	}
	return ParseInfoPlist(data, bundle)
}

// ParseInfoPlist reads an application's Info.plist (XML or binary) into an
// entry for the bundle at path.
func ParseInfoPlist(data []byte, path string) (Item, error) {
	if len(data) > maxPlistBytes {
		return Item{}, fmt.Errorf("bundle plist over %d bytes", maxPlistBytes)
	}
	var info infoPlist
	if _, err := plist.Unmarshal(data, &info); err != nil {
		return Item{}, fmt.Errorf("bundle plist: %w", err)
	}
	if bytes.HasPrefix(data, []byte("bplist")) && info.Identifier == "" && info.Name == "" {
		return Item{}, fmt.Errorf("bundle plist: no bundle keys")
	}
	v := info.ShortVersion
	if v == "" {
		v = info.Version
	}
	return Item{Name: filepath.Base(path), Version: v, Source: "apps", BundleID: info.Identifier, Path: path}, nil
}
