package fleet

import (
	"testing"

	"github.com/slipwayhq/slipway/internal/pgtest"
)

// TestMain serves as a server subprocess when the rehearsal starts this
// test binary as one (see ServeChild).
func TestMain(m *testing.M) {
	ServeChild()
	pgtest.Main(m)
}
