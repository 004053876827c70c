package sqlcol

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/slipwayhq/slipway/server/store"
)

// searchOnce answers a search in one statement when it can: the first
// window of every version (as searchPage's first round), the page's keys
// taken from it in SQL, and the page's machines and their entries of the
// versions, read by key. The result is the window rows, then the entries. If the first round
// does not settle the page (a version's window ended before the page's
// last key: a small tenant among many machines of others, or more versions
// than one statement reads), done is false and the caller runs the
// window-by-window search. One round trip where searchPage and hits took
// three or more, so small fleets pay no more than one query.
func (r SoftwareReader) searchOnce(ctx context.Context, q store.SoftwareSearch, ids []any) (hits []store.SoftwareHit, done bool, err error) {
	if len(ids) > searchMembers {
		return nil, false, nil
	}
	a := r.args()
	members := make([]string, 0, len(ids))
	// Placeholders in text order: SQLite's "?" are positional. A cursor
	// naming a machine deleted since compares with NULL: no rows, the
	// listing ends (as in searchPage).
	for v := range ids {
		ok := "1"
		if q.TenantID != "" {
			ok = "CASE WHEN (SELECT k.tenant_id FROM software_machines k WHERE k.id = x.machine_key) = " + a.add(q.TenantID) +
				" THEN 1 ELSE 0 END"
		}
		id := a.add(ids[v])
		from := "0"
		if q.After != "" {
			from = "(SELECT c.id FROM software_machines c WHERE c.machine_id = " + a.add(q.After) + ")"
		}
		members = append(members, fmt.Sprintf(`SELECT %d AS v, x.software_id, x.machine_key, %s AS ok FROM (SELECT software_id, machine_key
			FROM machine_software WHERE software_id = %s AND shadowed = 0 AND machine_key > %s ORDER BY machine_key LIMIT %d) AS x`,
			v, ok, id, from, q.Limit))
	}
	// The window rows, then the page's entries. MATERIALIZED: SQLite 3.54
	// otherwise pushes the joins into every member of the UNION and builds
	// the page again for each (1.3 s at 3,000 machines instead of 15 ms).
	// The entries are read by primary key from the page's machines (not by
	// joining each window row to the page: a scan of the page per row).
	text := `WITH w AS MATERIALIZED (` + strings.Join(members, " UNION ALL ") + `),
		page AS MATERIALIZED (SELECT DISTINCT machine_key FROM w WHERE ok = 1 ORDER BY machine_key LIMIT ` + fmt.Sprint(q.Limit) + `)
		SELECT v, machine_key, ok, 0, '', '', '', 0, '', '', '', '', '', '', 0, '', 0 FROM w
		UNION ALL
		SELECT -1, p.machine_key, 1, 1, m.id, m.tenant_id, m.hostname, ` + installedColumns + `
		FROM page p JOIN software_machines k ON k.id = p.machine_key JOIN machines m ON m.id = k.machine_id
		JOIN machine_software ms ON ms.machine_key = p.machine_key AND ms.shadowed = 0 AND ms.software_id IN (` + a.list(ids...) + `)
		JOIN software s ON s.id = ms.software_id`
	count := map[int]int{}
	last := map[int]int64{}
	seen := map[int64]bool{}
	byKey := map[int64]*store.SoftwareHit{}
	err = r.Query(ctx, text, a.vals, func(row Scanner) error {
		var v, ok, entry int
		var k int64
		var h store.SoftwareHit
		s, err := scanInstalled(row, &v, &k, &ok, &entry, &h.MachineID, &h.TenantID, &h.Hostname)
		if err != nil {
			return err
		}
		if entry == 1 { // a page machine's entry (a machine deleted meanwhile has none)
			if byKey[k] == nil {
				byKey[k] = &h
			}
			byKey[k].Software = append(byKey[k].Software, s)
			return nil
		}
		if count[v]++; count[v] == q.Limit {
			last[v] = k
		}
		if ok == 1 {
			seen[k] = true
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	keys := slices.Sorted(maps.Keys(seen))
	for _, k := range last { // a full window: could the version add a key to the page?
		if len(keys) < q.Limit || k < keys[q.Limit-1] {
			return nil, false, nil
		}
	}
	for _, k := range keys[:min(len(keys), q.Limit)] {
		h, ok := byKey[k]
		if !ok {
			continue
		}
		slices.SortFunc(h.Software, func(x, y store.InstalledSoftware) int {
			return cmp.Or(strings.Compare(x.Version, y.Version), cmp.Compare(x.ID, y.ID))
		})
		hits = append(hits, *h)
	}
	return hits, true, nil
}
