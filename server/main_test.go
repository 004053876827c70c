package server_test

import (
	"testing"

	"github.com/slipwayhq/slipway/internal/pgtest"
)

// TestMain stops the shared PostgreSQL cluster (pgtest) after the tests.
func TestMain(m *testing.M) { pgtest.Main(m) }
