package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/storetest"
)

func TestStats(t *testing.T) {
	storetest.RunStats(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "slipway.db"))
	})
}
