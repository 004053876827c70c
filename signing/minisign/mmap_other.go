//go:build !unix

package minisign

import (
	"errors"
	"os"
)

// mapFile is unsupported here; prehashFile falls back to reading.
func mapFile(*os.File, int) ([]byte, func(), error) {
	return nil, nil, errors.New("memory mapping not supported")
}
