package journal

import (
	"os"
	"syscall"
)

// fdatasync flushes the file's data (and the size it needs), not its
// timestamps: one device flush instead of two on ext4.
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
