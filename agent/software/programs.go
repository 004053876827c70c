package software

import (
	"context"
	"strings"
	"time"
)

// UninstallKeys are the registry keys Windows lists installed programs
// under (HKLM, its 32-bit view, and the user's).
var UninstallKeys = []string{
	`HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall`,
	`HKLM\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall`,
	`HKCU\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall`,
}

// Program is one uninstall registry key's values, as read (or recorded).
type Program struct {
	Key             string `json:"key"`
	DisplayName     string `json:"DisplayName"`
	DisplayVersion  string `json:"DisplayVersion"`
	Publisher       string `json:"Publisher"`
	InstallLocation string `json:"InstallLocation"`
	InstallDate     string `json:"InstallDate"` // YYYYMMDD
	SystemComponent uint64 `json:"SystemComponent"`
	ParentKeyName   string `json:"ParentKeyName"`
	ReleaseType     string `json:"ReleaseType"`
}

// Programs reads the uninstall registry keys (programs) on Windows.
type Programs struct{}

// Name names the source.
func (Programs) Name() string { return "windows-programs" }

// Collect reads the registry.
func (Programs) Collect(ctx context.Context) ([]Item, error) {
	progs, err := readUninstallKeys(ctx)
	return FromPrograms(progs), err
}

// FromPrograms keeps what "Apps & features" shows: entries with a display
// name that are neither system components nor updates of another entry.
func FromPrograms(progs []Program) []Item {
	var out []Item
	for _, p := range progs {
		if p.DisplayName == "" || p.SystemComponent == 1 || p.ParentKeyName != "" {
			continue
		}
		switch strings.ToLower(p.ReleaseType) {
		case "update", "hotfix", "security update":
			continue
		}
		it := Item{Name: p.DisplayName, Version: p.DisplayVersion, Source: "programs", Vendor: p.Publisher,
			Path: strings.TrimRight(strings.Trim(p.InstallLocation, `"`), `\`)}
		if t, err := time.Parse("20060102", p.InstallDate); err == nil {
			it.InstalledAt = &t
		}
		out = append(out, it)
	}
	return out
}
