//go:build !unix

package journal

import (
	"os"
	"path/filepath"
)

// lockDir opens dir/LOCK; without flock, exclusion rests on the server's
// own data directory lock.
func lockDir(dir string) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
}
