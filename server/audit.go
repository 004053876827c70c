package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// audit records a state-changing admin API action in the audit log, with
// the calling admin token as actor; cause is the action's error (nil when it
// succeeded). detail is marshalled to a small JSON object; it must carry no
// secret.
//
// By the time it is called the action has happened (or failed), so a failed
// audit write does not change the response: failing it would tell the admin
// the action did not happen when it did, inviting a retry that repeats it.
// Instead the failure is logged at error level with the whole entry, so the
// record survives in the server log.
func (s *Server) audit(r *http.Request, action, tenantID, target string, detail map[string]any, cause error) {
	admin, _ := r.Context().Value(adminKey).(store.AdminToken)
	e := store.AuditEntry{At: s.now().UTC(), TenantID: tenantID, ActorID: admin.ID, ActorName: admin.Name,
		Action: action, Target: target, Result: auditResult(cause)}
	if len(detail) > 0 {
		b, _ := json.Marshal(detail)
		e.Detail = store.Truncate(string(b), store.MaxAuditDetail)
	}
	// The request may be cancelled now that the action is done; the record is still due.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if err := s.st.AppendAudit(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "audit log write failed", "err", err, "action", e.Action, "tenant_id", e.TenantID,
			"target", e.Target, "admin_token_id", e.ActorID, "detail", e.Detail, "result", e.Result)
	}
}

// auditResult is the recorded outcome: the public code and message of an
// *Error, else the error text (store errors name no secret).
func auditResult(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return store.AuditResult(errors.New(e.Code + ": " + e.Message))
	}
	return store.AuditResult(err)
}

type auditView struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at"`
	TenantID string    `json:"tenantId"`
	Actor    actorView `json:"actor"`
	Action   string    `json:"action"`
	Target   string    `json:"target"`
	Detail   string    `json:"detail"`
	Result   string    `json:"result"`
}

type actorView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type auditList struct {
	Items      []auditView `json:"items"`
	NextCursor string      `json:"nextCursor,omitempty"`
}

// auditQuery reads and checks the audit list's query parameters, scoped to
// the admin token's tenant.
func auditQuery(r *http.Request) (store.AuditQuery, error) {
	v := r.URL.Query()
	q := store.AuditQuery{TenantID: v.Get("tenant"), Limit: store.DefaultAuditLimit}
	if err := text("tenant", q.TenantID, false, store.MaxAuditTenant); err != nil {
		return q, err
	}
	if scope := adminScope(r.Context()); scope != "" {
		if q.TenantID != "" && q.TenantID != scope {
			return q, errForbidden
		}
		q.TenantID = scope
	}
	q.Action = v.Get("action")
	if q.Action != "" && !store.ValidAuditAction(q.Action) {
		return q, badRequest("action", "must be an action word such as pause or revoke-token")
	}
	switch v.Get("failed") {
	case "", "false":
	case "true":
		q.Failed = true
	default:
		return q, badRequest("failed", "must be true or false")
	}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > store.MaxAuditLimit {
			return q, badRequest("limit", "must be an integer from 1 to %d", store.MaxAuditLimit)
		}
		q.Limit = n
	}
	if c := v.Get("cursor"); c != "" {
		before, err := store.ParseAuditCursor(c)
		if err != nil {
			return q, badRequest("cursor", "invalid cursor")
		}
		q.Before = before
	}
	return q, nil
}

func (s *Server) handleListAudit(w http.ResponseWriter, r *http.Request) error {
	q, err := auditQuery(r)
	if err != nil {
		return err
	}
	// One extra entry tells whether there is an older page; a full page of
	// the store's maximum is assumed to have one.
	want := q.Limit
	extra := want < store.MaxAuditLimit
	if extra {
		q.Limit++
	}
	entries, err := s.st.ListAudit(r.Context(), q)
	if err != nil {
		return err
	}
	out := auditList{Items: []auditView{}}
	if len(entries) > want || (!extra && len(entries) == want) {
		entries = entries[:want]
		out.NextCursor = store.AuditCursor(entries[want-1].ID)
	}
	for _, e := range entries {
		out.Items = append(out.Items, auditView{ID: e.ID, At: e.At, TenantID: e.TenantID,
			Actor: actorView{ID: e.ActorID, Name: e.ActorName}, Action: e.Action, Target: e.Target,
			Detail: e.Detail, Result: e.Result})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
