package adminui

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"sort"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/updater/gate"
)

// Channel is one release channel as the page shows it.
type Channel struct {
	Product, Name string
	Version       string  // the version served
	Rollout       float64 // percent of machines offered Version
	Paused        bool
	Previous      string // offered outside a partial rollout
	// RollbackTo is what `slipway rollback` restores ("" when nothing).
	RollbackTo string
	// Revoked versions (never offered again; their machines roll back).
	Revoked []string
	// Plan is the health-gated rollout plan, if any.
	Plan *gate.Plan
}

// Rollouts reads and changes release channels (the updater's channels file
// and its published state). Implemented by ChannelsFile.
type Rollouts interface {
	Channels(ctx context.Context) ([]Channel, error)
	SetPaused(ctx context.Context, product, channel string, paused bool) error
	// Rollback restores the channel's previous version and returns it.
	Rollback(ctx context.Context, product, channel string) (string, error)
}

// Channel actions on the releases page.
const (
	actionPause    = store.AuditPause
	actionResume   = store.AuditResume
	actionRollback = store.AuditRollback
)

type channelView struct {
	Channel
	Health   store.VersionStats // of Version
	Commands []string           // GitOps: what to run instead
	Gate     *gateView          // observed by the rollout gates (nil without a plan)
}

type releasesData struct {
	Configured bool
	GitOps     bool
	Channels   []channelView
	Versions   []store.VersionStats
	Stats      *store.FleetStats
	Message    string
	Global     bool       // the admin may change channels (not tenant-scoped)
	Halts      []gateView // halted rollouts, for the banner
}

func (u *UI) releasesPage(w http.ResponseWriter, r *http.Request) {
	s, _ := sessionFrom(r.Context())
	now := u.opts.Now()
	d := releasesData{Configured: u.opts.Rollouts != nil, GitOps: u.opts.GitOps, Global: s.Tenant == "",
		Message: r.URL.Query().Get("done")}
	if len(d.Message) > 200 {
		d.Message = ""
	}
	var err error
	if d.Stats, err = u.fleetStats(r.Context(), s.Tenant, true, now); err != nil {
		u.fail(w, r, err)
		return
	}
	health := map[string]store.VersionStats{}
	if d.Stats != nil {
		d.Versions = d.Stats.Versions
		for _, v := range d.Stats.Versions {
			health[v.Version] = v
		}
	}
	if d.Configured {
		chans, err := u.opts.Rollouts.Channels(r.Context())
		if err != nil {
			u.fail(w, r, err)
			return
		}
		sort.Slice(chans, func(i, j int) bool {
			return chans[i].Product+"/"+chans[i].Name < chans[j].Product+"/"+chans[j].Name
		})
		for _, c := range chans {
			v := channelView{Channel: c, Health: health[c.Version]}
			if c.Product != "agent" {
				v.Health = store.VersionStats{Version: c.Version} // only the agent reports its version in heartbeats
			}
			if u.opts.GitOps {
				v.Commands = u.gitOpsCommands(c)
			}
			if v.Gate, err = u.gateOf(r.Context(), c); err != nil {
				u.fail(w, r, err)
				return
			}
			if v.Gate != nil && v.Gate.State.Halted {
				d.Halts = append(d.Halts, *v.Gate)
			}
			d.Channels = append(d.Channels, v)
		}
	}
	u.render(w, r, "releases", http.StatusOK, page{Title: "Releases", Nav: "releases", Data: d})
}

// gitOpsCommands are the commands that pause/resume/roll back the channel
// through git instead of behind its back.
func (u *UI) gitOpsCommands(c Channel) []string {
	f := u.opts.ChannelsFile
	verb := actionPause
	if c.Paused {
		verb = actionResume
	}
	edit := func(v string) string {
		return fmt.Sprintf("slipway %s %s %s --channels %s && git commit -am '%s %s/%s' && git push   # then, after review: slipway apply --channels %s",
			v, c.Product, c.Name, f, v, c.Product, c.Name, f)
	}
	out := []string{edit(verb)}
	if c.RollbackTo != "" {
		out = append(out, edit(actionRollback))
	}
	return out
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

func (u *UI) channelAction(w http.ResponseWriter, r *http.Request) {
	s, _ := sessionFrom(r.Context())
	product, name, action := chi.URLParam(r, "product"), chi.URLParam(r, "channel"), chi.URLParam(r, "action")
	switch {
	case u.opts.Rollouts == nil:
		u.fail(w, r, &httpError{http.StatusNotFound, "the updater is not configured on this server"})
		return
	case u.opts.GitOps:
		u.fail(w, r, &httpError{http.StatusConflict, "GitOps is on: change the channels file in git (the releases page shows the command)"})
		return
	case s.Tenant != "":
		u.fail(w, r, &httpError{http.StatusForbidden, "channels are global; a tenant-scoped admin token cannot change them"})
		return
	case !nameRE.MatchString(product) || !nameRE.MatchString(name):
		u.fail(w, r, badRequest("invalid product or channel name"))
		return
	}
	var err error
	msg := fmt.Sprintf("%s/%s: %s", product, name, action)
	ev := auditEvent{action: action, target: product + "/" + name, attrs: []any{"product", product, "channel", name}}
	switch action {
	case actionPause, actionResume:
		err = u.opts.Rollouts.SetPaused(r.Context(), product, name, action == actionPause)
	case actionRollback:
		var v string
		v, err = u.opts.Rollouts.Rollback(r.Context(), product, name)
		msg = fmt.Sprintf("%s/%s rolled back to %s", product, name, v)
		if err == nil {
			ev.attrs = append(ev.attrs, "version", v)
		}
	default:
		u.fail(w, r, badRequest("unknown action "+action)) // not an action: nothing to record
		return
	}
	ev.err = err
	u.audit(r.Context(), s, ev) // channels are global: no tenant
	if err != nil {
		err = &httpError{http.StatusConflict, fmt.Sprintf("%s/%s: %s failed: %v", product, name, action, err)}
		u.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/releases?done="+urlQueryEscape(msg), http.StatusSeeOther)
}
