//go:build unix

package minisign

import (
	"golang.org/x/sys/unix"
	"os"
)

// mapFile maps size bytes of f read-only; unmap releases the mapping.
func mapFile(f *os.File, size int) (data []byte, unmap func(), err error) {
	data, err = unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	_ = unix.Madvise(data, unix.MADV_SEQUENTIAL) // a hint; readahead only
	return data, func() { _ = unix.Munmap(data) }, nil
}
