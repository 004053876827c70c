package main

import (
	"context"
	"io"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/storage"
)

// serverHooks are what a rehearsal build (`go build -tags rehearsal`,
// rehearsal_on.go) changes in `slipway server` so that bench/fleet can run
// it on a simulated clock; a production build keeps the defaults.
type serverHooks struct {
	now       func() time.Time                      // the clock
	wrapStore func(storage.Store) storage.Store     // the release store as the updates see it
	mount     func(chi.Router)                      // extra routes
	setTick   func(func(context.Context) error)     // receives the update endpoints' periodic work
	ready     func(out io.Writer, info server.Info) // after the server listens
	// background runs the periodic metadata refresh on its own timer
	// (false: whoever received setTick drives it).
	background bool
}

// newServerHooks returns the hooks of this build.
var newServerHooks = func() (serverHooks, error) { return productionHooks(), nil }

func productionHooks() serverHooks {
	return serverHooks{now: time.Now, background: true}
}
