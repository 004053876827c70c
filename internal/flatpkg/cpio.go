package flatpkg

import (
	"fmt"
	"io"
	"time"
)

// writeODC writes files as a portable ASCII ("odc", magic 070707) cpio
// archive, the format of a flat package's Scripts and Payload: a "."
// directory, then "./name" for each file, owned by root (uid 0) and group
// admin (gid 80) as pkgbuild writes them, then the trailer.
func writeODC(w io.Writer, files []*entry, mtime time.Time) error {
	header := func(ino int, mode uint32, name string, size int) error {
		_, err := fmt.Fprintf(w, "070707%06o%06o%06o%06o%06o%06o%06o%011o%06o%011o%s\x00",
			0, ino, mode, 0, 80, 1, 0, mtime.Unix(), len(name)+1, size, name)
		return err
	}
	if err := header(1, 0o040755, ".", 0); err != nil {
		return fmt.Errorf("cpio: %w", err)
	}
	for i, f := range files {
		if f.dir {
			return fmt.Errorf("cpio: %s: directories are not supported", f.name)
		}
		if err := header(i+2, 0o100000|f.mode&0o7777, "./"+f.name, len(f.data)); err != nil {
			return fmt.Errorf("cpio: %w", err)
		}
		if _, err := w.Write(f.data); err != nil {
			return fmt.Errorf("cpio: %w", err)
		}
	}
	// The trailer has no times: cpio readers ignore them.
	if _, err := fmt.Fprintf(w, "070707%06o%06o%06o%06o%06o%06o%06o%011o%06o%011o%s\x00",
		0, 0, 0, 0, 0, 1, 0, 0, len("TRAILER!!!")+1, 0, "TRAILER!!!"); err != nil {
		return fmt.Errorf("cpio: %w", err)
	}
	return nil
}
