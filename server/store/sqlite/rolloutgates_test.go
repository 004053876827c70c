package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/storetest"
)

func TestRolloutGates(t *testing.T) {
	storetest.RunRolloutGates(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "slipway.db"))
	})
}
