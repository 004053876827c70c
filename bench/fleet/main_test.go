package fleet

import (
	"testing"

	"github.com/slipwayhq/slipway/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
