package server

import (
	"context"
	"fmt"
	"net/http"
	"regexp"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/server/store"
)

// ChannelActions changes release channels: the admin page's channels file
// (adminui.ChannelsFile implements it). Nil: the admin API answers 404.
type ChannelActions interface {
	SetPaused(ctx context.Context, product, channel string, paused bool) error
	// Rollback restores the channel's previous version and returns it.
	Rollback(ctx context.Context, product, channel string) (string, error)
}

var channelNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// handleChannelAction pauses, resumes or rolls back a channel: the
// release manager's actions of the admin page, on the admin API.
// Channels are global, so a tenant-scoped token is refused.
func (s *Server) handleChannelAction(w http.ResponseWriter, r *http.Request) error {
	if err := decodeOptional(w, r, s.cfg.MaxBodyBytes, &emptyRequest{}); err != nil {
		return err
	}
	product, channel, action := chi.URLParam(r, "product"), chi.URLParam(r, "channel"), chi.URLParam(r, "action")
	switch {
	case s.channels == nil:
		return &Error{Status: http.StatusNotFound, Code: "not_configured",
			Message: "channel actions are not available: the updater is not configured, or the channels file is in git (GitOps)"}
	case adminToken(r.Context()).TenantID != "":
		return &Error{Status: http.StatusForbidden, Code: "forbidden", Message: "channels are global; a tenant-scoped admin token cannot change them"}
	case !channelNameRE.MatchString(product):
		return badRequest("product", "must be 1-64 lower-case letters, digits, '.', '_' or '-'")
	case !channelNameRE.MatchString(channel):
		return badRequest("channel", "must be 1-64 lower-case letters, digits, '.', '_' or '-'")
	case action != store.AuditPause && action != store.AuditResume && action != store.AuditRollback:
		return badRequest("action", "must be pause, resume or rollback")
	}
	detail := map[string]any{"product": product, "channel": channel}
	var err error
	if action == store.AuditRollback {
		var v string
		if v, err = s.channels.Rollback(r.Context(), product, channel); err == nil {
			detail["version"] = v
		}
	} else {
		err = s.channels.SetPaused(r.Context(), product, channel, action == store.AuditPause)
	}
	if err != nil {
		err = &Error{Status: http.StatusConflict, Code: "channel_action_failed", Message: fmt.Sprintf("%s/%s: %s failed: %v", product, channel, action, err)}
	}
	s.audit(r, action, "", product+"/"+channel, detail, err)
	if err != nil {
		return err
	}
	detail["action"] = action
	writeJSON(w, http.StatusOK, detail)
	return nil
}
