package server_test

import (
	"testing"

	"github.com/slipwayhq/slipway/internal/pgtest"
)

// TestMain stops the throwaway PostgreSQL cluster that tests running the
// server on PostgreSQL (see backends) start.
func TestMain(m *testing.M) { pgtest.Main(m) }
