//go:build !windows

package software

import (
	"context"
	"fmt"
)

func readUninstallKeys(context.Context) ([]Program, error) {
	return nil, fmt.Errorf("uninstall registry keys: %w", ErrNoTool)
}
