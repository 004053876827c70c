package minisign

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"

	"golang.org/x/crypto/blake2b"

	"github.com/slipwayhq/slipway/signing"
)

// mmapMinSize is the smallest file hashed through a memory mapping; for
// smaller ones read(2) is as cheap.
const mmapMinSize = 1 << 20

// prehashFile returns BLAKE2b-512 of an open file. Large regular files are
// hashed through a read-only memory mapping, which saves copying every byte
// through read(2) (about a seventh of the CPU time of signing a large
// file); anything else, or a failed mapping, is streamed.
func prehashFile(ctx context.Context, f *os.File) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Mode().IsRegular() && st.Size() >= mmapMinSize && int64(int(st.Size())) == st.Size() {
		data, unmap, err := mapFile(f, int(st.Size()))
		if err == nil {
			defer unmap()
			return hashMapped(ctx, data)
		}
	}
	return Prehash(signing.ContextReader(ctx, f))
}

// hashMapped hashes mapped memory in chunks, checking ctx between them. A
// file truncated while mapped faults on access (SIGBUS); that becomes an
// error instead of a crash.
func hashMapped(ctx context.Context, data []byte) (sum []byte, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			sum, err = nil, fmt.Errorf("hash data: file changed while it was read: %v", r)
		}
	}()
	h, _ := blake2b.New512(nil)
	for off := 0; off < len(data); off += hashBufLen {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h.Write(data[off:min(off+hashBufLen, len(data))])
	}
	return h.Sum(nil), nil
}
