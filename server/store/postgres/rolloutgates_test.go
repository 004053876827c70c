package postgres_test

import (
	"testing"

	"github.com/slipwayhq/slipway/internal/pgtest"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/storetest"
)

func TestRolloutGates(t *testing.T) {
	storetest.RunRolloutGates(t, func(t *testing.T) store.Store { return open(t, pgtest.Start(t)) })
}
