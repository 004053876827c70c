package s3_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/slipwayhq/slipway/internal/s3test"
	"github.com/slipwayhq/slipway/storage"
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
