package s3_test

import (
	"fmt"
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
		st, err := s3.New(s3.Config{
			Endpoint:        srv.Endpoint,
			Bucket:          srv.Bucket,
			Region:          srv.Region,
			Prefix:          fmt.Sprintf("t%d/%s", n.Add(1), strings.ReplaceAll(t.Name(), "/", "_")),
			PathStyle:       true,
			Insecure:        true,
			AccessKeyID:     srv.AccessKey,
			SecretAccessKey: srv.SecretKey,
		}, s3.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	storagetest.Run(t, newStore, storagetest.Options{StoresContentType: true, URLsExpire: true})
}
