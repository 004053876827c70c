//go:build windows

package software

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/windows/registry"
)

// maxPrograms bounds the uninstall entries read.
const maxPrograms = 20000

// readUninstallKeys reads every subkey of UninstallKeys; keys that do not
// exist (no 32-bit view, no user entries) are skipped.
func readUninstallKeys(ctx context.Context) ([]Program, error) {
	var out []Program
	var errs []error
	for _, path := range UninstallKeys {
		root, sub, _ := strings.Cut(path, `\`)
		base := registry.LOCAL_MACHINE
		if root == "HKCU" {
			base = registry.CURRENT_USER
		}
		progs, err := readKey(ctx, base, sub, path, maxPrograms-len(out))
		if err != nil && !errors.Is(err, registry.ErrNotExist) {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
		}
		out = append(out, progs...)
	}
	return out, errors.Join(errs...)
}

func readKey(ctx context.Context, base registry.Key, sub, name string, limit int) ([]Program, error) {
	k, err := registry.OpenKey(base, sub, registry.ENUMERATE_SUB_KEYS|registry.QUERY_VALUE)
	if err != nil {
		return nil, err
	}
	defer k.Close()
	names, err := k.ReadSubKeyNames(limit)
	if err != nil && len(names) == 0 {
		return nil, err
	}
	var out []Program
	for _, n := range names {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		sk, err := registry.OpenKey(k, n, registry.QUERY_VALUE)
		if err != nil {
			continue
		}
		str := func(v string) string { s, _, _ := sk.GetStringValue(v); return s }
		p := Program{Key: name + `\` + n, DisplayName: str("DisplayName"), DisplayVersion: str("DisplayVersion"),
			Publisher: str("Publisher"), InstallLocation: str("InstallLocation"), InstallDate: str("InstallDate"),
			ParentKeyName: str("ParentKeyName"), ReleaseType: str("ReleaseType")}
		p.SystemComponent, _, _ = sk.GetIntegerValue("SystemComponent")
		sk.Close()
		out = append(out, p)
	}
	return out, nil
}
