package s3_test

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/slipwayhq/slipway/internal/s3test"
	"github.com/slipwayhq/slipway/storage"
	"github.com/slipwayhq/slipway/storage/s3"
	"github.com/slipwayhq/slipway/storage/storagetest"
)

func TestConformance(t *testing.T) {
	srv := s3test.Start(t)
	var n atomic.Int64
	newStore := func(t *testing.T) storage.Store {
		// A fresh prefix per subtest: an empty store on the shared server.
		return srv.Store(t, fmt.Sprintf("t%d/%s", n.Add(1), strings.ReplaceAll(t.Name(), "/", "_")))
	}
	storagetest.Run(t, newStore, storagetest.Options{StoresContentType: true, URLsExpire: true})
}

// TestUnsizedPutBuffersOnePart: an upload of unknown size buffers one part
// (DefaultPartSize), not minio-go's ~537 MiB default for unsized objects.
func TestUnsizedPutBuffersOnePart(t *testing.T) {
	st := s3test.Start(t).Store(t, "")
	data := bytes.Repeat([]byte("x"), 1<<20)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := st.Put(t.Context(), "unsized", io.MultiReader(bytes.NewReader(data)), -1, ""); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4*s3.DefaultPartSize {
		t.Errorf("unsized 1 MiB upload allocated %d MiB", alloc>>20)
	}
}
