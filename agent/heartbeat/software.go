package heartbeat

import (
	"context"
	"time"

	"github.com/slipwayhq/slipway/agent/software"
	"github.com/slipwayhq/slipway/machineapi"
)

// softwareHash returns the hash of the software list, re-collecting it
// every SoftwareEvery; "" when the loop collects no software.
func (l *Loop) softwareHash(ctx context.Context) string {
	if l.opts.Software == nil {
		return ""
	}
	if l.sw == nil || l.opts.Now().Sub(l.swAt) >= l.opts.SoftwareEvery {
		list := l.opts.Software(ctx)
		l.sw, l.swAt = &list, l.opts.Now()
	}
	return l.sw.Hash
}

// uploadSoftware sends the full list the server asked for. A failure is
// logged only: the next heartbeat carries the same hash and the server
// asks again.
func (l *Loop) uploadSoftware(ctx context.Context, c *machineapi.Client, token string) {
	if l.sw == nil {
		return
	}
	up := machineapi.SoftwareUpload{Hash: l.sw.Hash, Truncated: l.sw.Truncated, Software: l.sw.Items}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	res, err := c.UploadSoftware(ctx, token, up)
	if err != nil {
		l.opts.Logger.WarnContext(ctx, "software list upload failed; retrying at the next heartbeat", "err", err)
		return
	}
	l.opts.Logger.InfoContext(ctx, "software list sent", "entries", res.Stored, "installed", res.Installed,
		"removed", res.Removed, "truncated", l.sw.Truncated)
}

// CollectSoftware is the daemon's software collector.
func CollectSoftware(opts software.Options) func(ctx context.Context) software.List {
	return func(ctx context.Context) software.List { return software.Collect(ctx, opts) }
}
