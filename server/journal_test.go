package server_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/store/sqlite"
)

// With the SQLite heartbeat journal (what `slipway server` runs), the
// admin API shows a heartbeat as soon as it is acknowledged — the same
// machine detail as without the journal — and /metrics reports how many
// heartbeats wait to be folded.
func TestHeartbeatJournalVisibleAtOnce(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "slipway.db"), sqlite.Options{
		Synchronous: "NORMAL", HeartbeatJournal: filepath.Join(dir, "heartbeats"), FoldInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvStore(t, dir, st)
	m := e.register(e.secret, "detail-1", "D1")
	expect(t, e.do("POST", "/api/machines/heartbeat", m.Token, map[string]any{"agentVersion": "1.0.0", "metrics": map[string]any{"cpu": 33}}), http.StatusOK)
	if n := st.UnfoldedHeartbeats(); n == 0 {
		t.Fatal("the heartbeat was folded already: the test does not exercise the journal")
	}
	metrics := string(expect(t, e.do("GET", "/metrics", "", nil), http.StatusOK).Body)
	if !strings.Contains(metrics, "slipway_heartbeat_journal_unfolded ") {
		t.Fatalf("/metrics lacks the journal gauge:\n%s", metrics)
	}
	r := expect(t, e.do("GET", "/api/admin/machines/"+m.ID, e.admin, nil), http.StatusOK)
	checkGolden(t, "TestAdminMachineDetail", r.Body, "id")
	if n := st.UnfoldedHeartbeats(); n != 0 {
		t.Fatalf("%d heartbeats still unfolded after a machine read", n)
	}
}
