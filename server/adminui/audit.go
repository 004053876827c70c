package adminui

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// auditPageSize is the audit page's page size.
const auditPageSize = 50

// auditEvent is an admin action to record.
type auditEvent struct {
	action string
	tenant string // the tenant acted on; "" for global actions (channels)
	target string
	err    error // nil: the action succeeded
	attrs  []any // key-value pairs: slog attributes and the entry's JSON detail; no secrets
}

// audit records an admin action: a slog line (key "audit"=true) and an
// entry in the audit log, failed actions included (their error text as the
// result).
//
// The action has already happened (or failed) when it is recorded, so a
// failed audit write does not fail the request: reporting an error for an
// action that took effect invites a retry that repeats it. The failure is
// logged at error level instead, next to the slog record of the action.
func (u *UI) audit(ctx context.Context, s session, ev auditEvent) {
	e := store.AuditEntry{At: u.opts.Now().UTC(), TenantID: ev.tenant, ActorID: s.TokenID, ActorName: s.name,
		Action: ev.action, Target: ev.target, Result: store.AuditResult(ev.err)}
	detail := map[string]any{}
	for i := 0; i+1 < len(ev.attrs); i += 2 {
		if k, ok := ev.attrs[i].(string); ok {
			detail[k] = ev.attrs[i+1]
		}
	}
	if len(detail) > 0 {
		b, _ := json.Marshal(detail)
		e.Detail = store.Truncate(string(b), store.MaxAuditDetail)
	}
	u.opts.Logger.InfoContext(ctx, "admin action", append([]any{"audit", true, "action", e.Action,
		"admin_token_id", e.ActorID, "tenant", e.TenantID, "target", e.Target, "result", e.Result}, ev.attrs...)...)
	// The request may be cancelled now that the action is done; the record is still due.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := u.st.AppendAudit(wctx, e); err != nil {
		u.opts.Logger.ErrorContext(ctx, "audit log write failed", "err", err, "action", e.Action,
			"admin_token_id", e.ActorID, "target", e.Target)
	}
}

type auditData struct {
	Entries []store.AuditEntry
	Filter  auditFilter
	Actions []string // known actions, for the filter's suggestions
	Newest  string   // URL of the newest page with the same filters
	Older   string   // URL of the next (older) page, "" on the last
	Paged   bool     // not the newest page
}

// auditFilter is the page's filter form.
type auditFilter struct {
	Tenant string
	Action string
	Failed bool
	Scoped bool // a tenant-scoped admin: no tenant field
}

func (f auditFilter) values() url.Values {
	v := url.Values{}
	if f.Tenant != "" && !f.Scoped {
		v.Set("tenant", f.Tenant)
	}
	if f.Action != "" {
		v.Set("action", f.Action)
	}
	if f.Failed {
		v.Set("failed", "1")
	}
	return v
}

// auditPage lists the audit log, newest first, in keyset pages, filtered
// by tenant, action and failure; a tenant-scoped admin sees only its
// tenant's entries.
func (u *UI) auditPage(w http.ResponseWriter, r *http.Request) {
	s, _ := sessionFrom(r.Context())
	v := r.URL.Query()
	f := auditFilter{Tenant: v.Get("tenant"), Action: v.Get("action"), Scoped: s.Tenant != ""}
	switch v.Get("failed") {
	case "", "0":
	case "1", "on", "true":
		f.Failed = true
	default:
		u.fail(w, r, badRequest("failed must be 1 or empty"))
		return
	}
	if f.Scoped {
		f.Tenant = s.Tenant
	}
	if f.Action != "" && !store.ValidAuditAction(f.Action) {
		u.fail(w, r, badRequest("invalid action"))
		return
	}
	if len(f.Tenant) > store.MaxAuditTenant {
		u.fail(w, r, badRequest("invalid tenant"))
		return
	}
	q := store.AuditQuery{TenantID: f.Tenant, Action: f.Action, Failed: f.Failed, Limit: auditPageSize + 1}
	c := v.Get("cursor")
	if c != "" {
		var err error
		if q.Before, err = store.ParseAuditCursor(c); err != nil {
			u.fail(w, r, badRequest("invalid cursor"))
			return
		}
	}
	entries, err := u.st.ListAudit(r.Context(), q)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	d := auditData{Entries: entries, Filter: f, Actions: store.AuditActions, Paged: c != "",
		Newest: "/admin/audit?" + f.values().Encode()}
	if len(entries) > auditPageSize {
		d.Entries = entries[:auditPageSize]
		older := f.values()
		older.Set("cursor", store.AuditCursor(d.Entries[auditPageSize-1].ID))
		d.Older = "/admin/audit?" + older.Encode()
	}
	u.render(w, r, "audit", http.StatusOK, page{Title: "Audit log", Nav: "audit", Data: d})
}
