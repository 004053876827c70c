package fleet

import (
	"runtime/debug"
	"testing"

	"github.com/slipwayhq/slipway/internal/pgtest"
)

func TestMain(m *testing.M) {
	debug.SetGCPercent(GCPercent)
	pgtest.Main(m)
}
