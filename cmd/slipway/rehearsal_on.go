//go:build rehearsal

package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/slipwayhq/slipway/internal/rehearsal"
	"github.com/slipwayhq/slipway/server"
)

// A rehearsal build (`go build -tags rehearsal ./cmd/slipway`, what
// bench/fleet runs) started with SLIPWAY_REHEARSAL_TOKEN serves on the
// harness's clock (SLIPWAY_REHEARSAL_CLOCK, then /_rehearsal/clock), with a
// switchable fault in front of the release store and the periodic
// metadata refresh run by /_rehearsal/tick instead of a timer. Without
// the variable it is the normal server.
func init() { newServerHooks = rehearsalHooks }

func rehearsalHooks() (serverHooks, error) {
	h := productionHooks()
	tok := os.Getenv(rehearsal.EnvToken)
	if tok == "" {
		return h, nil
	}
	start := time.Now()
	if v := os.Getenv(rehearsal.EnvClock); v != "" {
		var err error
		if start, err = rehearsal.ParseClock(v); err != nil {
			return h, err
		}
	}
	c, err := rehearsal.NewControl(tok, start)
	if err != nil {
		return h, err
	}
	h.now, h.wrapStore, h.mount, h.setTick, h.background = c.Clock.Now, c.Wrap, c.Routes, c.SetTick, false
	h.ready = func(out io.Writer, info server.Info) {
		fmt.Fprintf(out, "%shttp://%s\n", rehearsal.ListeningPrefix, info.Addr)
	}
	return h, nil
}
