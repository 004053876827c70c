package sqlcol

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/slipwayhq/slipway/server/store"
)

// SoftwareReader implements the read side of store.SoftwareStore; a
// store embeds it. Wrap maps the store's errors (with the operation name).
type SoftwareReader struct {
	Query Query
	Param func(n int) string
	Wrap  func(op string, err error) error
	// OneStatement tries searchOnce first (PostgreSQL, where each round
	// trip costs). SQLite planned its entries join badly at 100k machines
	// (2 s) and pays little per statement, so it reads window by window.
	OneStatement bool
}

func (r SoftwareReader) args() *args { return &args{param: r.Param} }

// installedColumns are the columns scanInstalled reads.
const installedColumns = `s.id, s.name, s.version, s.source, s.bundle_id, s.vendor, s.vulnerabilities,
	ms.origin, ms.path, ms.installed_at`

func scanInstalled(row Scanner, extra ...any) (store.InstalledSoftware, error) {
	var s store.InstalledSoftware
	var vulns string
	var origin int
	var at int64
	dest := append(extra, &s.ID, &s.Name, &s.Version, &s.Source, &s.BundleID, &s.Vendor, &vulns, &origin, &s.Path, &at)
	if err := row.Scan(dest...); err != nil {
		return s, err
	}
	if vulns != "" {
		s.Vulnerabilities = strings.Fields(vulns)
	}
	s.Origin, s.InstalledAt = OriginName(origin), Time(at)
	return s, nil
}

// SoftwareHash returns the stored hash of the machine's list from origin.
func (r SoftwareReader) SoftwareHash(ctx context.Context, machineID, origin string) (string, error) {
	h, err := r.softwareHash(ctx, machineID, origin)
	return h, r.Wrap("software hash", err)
}

// ListMachineSoftware returns the machine's visible software.
func (r SoftwareReader) ListMachineSoftware(ctx context.Context, machineID string) ([]store.InstalledSoftware, error) {
	out, err := r.listMachineSoftware(ctx, machineID)
	return out, r.Wrap("list machine software", err)
}

// FindSoftware returns the machines having a title.
func (r SoftwareReader) FindSoftware(ctx context.Context, q store.SoftwareSearch) ([]store.SoftwareHit, error) {
	out, err := r.findSoftware(ctx, q)
	return out, r.Wrap("find software", err)
}

// ListSoftwareHistory returns the machine's changes, newest first.
func (r SoftwareReader) ListSoftwareHistory(ctx context.Context, machineID string, limit int) ([]store.SoftwareChange, error) {
	out, err := r.listSoftwareHistory(ctx, machineID, limit)
	return out, r.Wrap("list software history", err)
}

func (r SoftwareReader) softwareHash(ctx context.Context, machineID, origin string) (string, error) {
	a := r.args()
	var hash string
	err := r.Query(ctx, "SELECT hash FROM machine_software_lists WHERE machine_id = "+a.add(machineID)+
		" AND origin = "+a.add(OriginCode(origin)), a.vals, func(row Scanner) error { return row.Scan(&hash) })
	return hash, err
}

func (r SoftwareReader) listMachineSoftware(ctx context.Context, machineID string) ([]store.InstalledSoftware, error) {
	a := r.args()
	var out []store.InstalledSoftware
	err := r.Query(ctx, "SELECT "+installedColumns+` FROM software_machines k
		JOIN machine_software ms ON ms.machine_key = k.id JOIN software s ON s.id = ms.software_id
		WHERE k.machine_id = `+a.add(machineID)+" AND ms.shadowed = 0 ORDER BY s.name_key, s.name, s.version, s.id",
		a.vals, func(row Scanner) error {
			s, err := scanInstalled(row)
			out = append(out, s)
			return err
		})
	return out, err
}

// maxVersions bounds the versions of one title a search considers.
const maxVersions = 5000

// findSoftware answers a search in two round trips on PostgreSQL when the
// first window of each version settles the page (searchOnce): the title's versions
// (filtered in Go: version order is not SQL's), then one statement for the
// page. Otherwise one page of machine keys is read from the search index
// window by window (searchPage), then the matching entries of that page
// (hits).
func (r SoftwareReader) findSoftware(ctx context.Context, q store.SoftwareSearch) ([]store.SoftwareHit, error) {
	if q.Limit <= 0 || q.Limit > 500 {
		q.Limit = 500
	}
	a := r.args()
	var ids []any
	err := r.Query(ctx, "SELECT id, version FROM software WHERE name_key = "+a.add(strings.ToLower(q.Name)),
		a.vals, func(row Scanner) error {
			var id int64
			var v string
			if err := row.Scan(&id, &v); err != nil {
				return err
			}
			if q.Version == nil || q.Version(v) {
				ids = append(ids, id)
			}
			return nil
		})
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	if len(ids) > maxVersions {
		return nil, fmt.Errorf("%d versions of %q match, more than %d: %w", len(ids), q.Name, maxVersions, store.ErrInvalid)
	}
	if r.OneStatement {
		if hits, done, err := r.searchOnce(ctx, q, ids); err != nil || done {
			return hits, err
		}
	}
	keys, err := r.searchPage(ctx, q, ids)
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	return r.hits(ctx, keys, ids)
}

// searchMembers is how many versions one search statement reads.
const searchMembers = 100

// searchPage returns one page of machine keys, in key order. Each version
// is read in key order from the search index (software_id, shadowed,
// machine_key), a window at a time (one page, then twice as much each
// round), as one member of a UNION; the tenant
// is checked on the window's rows (outside the window's query, so the
// planner reads the index in order rather than guessing how many rows the
// tenant keeps). A version whose window ended before the page was settled
// is read further. Work: versions × page size for one tenant, more when a
// small tenant shares the versions with many machines of other tenants.
func (r SoftwareReader) searchPage(ctx context.Context, q store.SoftwareSearch, ids []any) ([]any, error) {
	after := int64(0)
	if q.After != "" {
		a := r.args()
		found := false
		err := r.Query(ctx, "SELECT id FROM software_machines WHERE machine_id = "+a.add(q.After), a.vals,
			func(row Scanner) error { found = true; return row.Scan(&after) })
		if err != nil || !found { // a cursor naming a machine deleted since ends the listing
			return nil, err
		}
	}
	// A page's worth first (all of it is the tenant's in a one-tenant
	// fleet), twice as much each further round.
	window := q.Limit
	from := make(map[int]int64, len(ids)) // version index → read after this key
	for i := range ids {
		from[i] = after
	}
	seen := map[int64]bool{}
	for len(from) > 0 {
		pending := slices.Sorted(maps.Keys(from))
		last := map[int]int64{} // version index → last key read, when the window was full
		for start := 0; start < len(pending); start += searchMembers {
			if err := r.searchWindow(ctx, q, ids, pending[start:min(start+searchMembers, len(pending))], from, window, seen, last); err != nil {
				return nil, err
			}
		}
		window = min(2*window, 2000)
		// The page is settled once no unfinished version can add a key
		// below the page's last.
		keys := slices.Sorted(maps.Keys(seen))
		from = map[int]int64{}
		for v, k := range last {
			if len(keys) < q.Limit || k < keys[q.Limit-1] {
				from[v] = k
			}
		}
	}
	keys := slices.Sorted(maps.Keys(seen))
	out := make([]any, 0, min(len(keys), q.Limit))
	for _, k := range keys[:min(len(keys), q.Limit)] {
		out = append(out, k)
	}
	return out, nil
}

// searchWindow reads one window of each version in vs: the keys of the
// tenant go to seen; the last key of a full window to last.
func (r SoftwareReader) searchWindow(ctx context.Context, q store.SoftwareSearch, ids []any, vs []int, from map[int]int64,
	window int, seen map[int64]bool, last map[int]int64) error {
	a := r.args()
	members := make([]string, 0, len(vs))
	// Placeholders in text order: SQLite's "?" are positional.
	for _, v := range vs {
		ok := "1"
		if q.TenantID != "" {
			ok = "CASE WHEN (SELECT k.tenant_id FROM software_machines k WHERE k.id = w.machine_key) = " + a.add(q.TenantID) +
				" THEN 1 ELSE 0 END"
		}
		members = append(members, fmt.Sprintf(`SELECT %d AS v, w.machine_key, %s AS ok FROM (SELECT machine_key FROM machine_software
			WHERE software_id = %s AND shadowed = 0 AND machine_key > %s ORDER BY machine_key LIMIT %d) AS w`,
			v, ok, a.add(ids[v]), a.add(from[v]), window))
	}
	count := map[int]int{}
	return r.Query(ctx, strings.Join(members, " UNION ALL "), a.vals, func(row Scanner) error {
		var v, ok int
		var k int64
		if err := row.Scan(&v, &k, &ok); err != nil {
			return err
		}
		count[v]++
		if ok == 1 {
			seen[k] = true
		}
		if count[v] == window {
			last[v] = k
		}
		return nil
	})
}

// hits reads the page's machines, then their entries of the versions: two
// queries the planner runs by key (one join of both made PostgreSQL hash
// whole tables at 100k machines).
func (r SoftwareReader) hits(ctx context.Context, keys, ids []any) ([]store.SoftwareHit, error) {
	a := r.args()
	byKey := make(map[int64]*store.SoftwareHit, len(keys))
	err := r.Query(ctx, `SELECT k.id, m.id, m.tenant_id, m.hostname FROM software_machines k
		JOIN machines m ON m.id = k.machine_id WHERE k.id IN (`+a.list(keys...)+")", a.vals, func(row Scanner) error {
		var k int64
		var h store.SoftwareHit
		if err := row.Scan(&k, &h.MachineID, &h.TenantID, &h.Hostname); err != nil {
			return err
		}
		byKey[k] = &h
		return nil
	})
	if err != nil {
		return nil, err
	}
	a = r.args()
	var order []int64
	err = r.Query(ctx, "SELECT ms.machine_key, "+installedColumns+` FROM machine_software ms
		JOIN software s ON s.id = ms.software_id
		WHERE ms.machine_key IN (`+a.list(keys...)+") AND ms.software_id IN ("+a.list(ids...)+
		") AND ms.shadowed = 0 ORDER BY ms.machine_key, s.version, s.id", a.vals, func(row Scanner) error {
		var k int64
		s, err := scanInstalled(row, &k)
		if err != nil {
			return err
		}
		h, ok := byKey[k]
		if !ok { // the machine was deleted between the two reads
			return nil
		}
		if len(h.Software) == 0 {
			order = append(order, k)
		}
		h.Software = append(h.Software, s)
		return nil
	})
	out := make([]store.SoftwareHit, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	return out, err
}

func (r SoftwareReader) listSoftwareHistory(ctx context.Context, machineID string, limit int) ([]store.SoftwareChange, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	a := r.args()
	var out []store.SoftwareChange
	err := r.Query(ctx, fmt.Sprintf(`SELECT h.at, h.change, s.name, s.version, s.source, s.bundle_id, s.vendor
		FROM software_history h JOIN software s ON s.id = h.software_id WHERE h.machine_id = %s
		ORDER BY h.at DESC, h.id DESC LIMIT %d`, a.add(machineID), limit), a.vals, func(row Scanner) error {
		var c store.SoftwareChange
		var at int64
		err := row.Scan(&at, &c.Change, &c.Software.Name, &c.Software.Version, &c.Software.Source,
			&c.Software.BundleID, &c.Software.Vendor)
		c.At = Time(at)
		out = append(out, c)
		return err
	})
	return out, err
}

// GCBatch is how many software rows one CollectSoftwareSQL deletes.
const GCBatch = 1000

// CollectSoftwareSQL deletes up to GCBatch software rows that no machine
// (machine_software, shadowed links included) and no history row refers
// to. Run it until it deletes fewer than GCBatch rows (or a bound).
var CollectSoftwareSQL = fmt.Sprintf(`DELETE FROM software WHERE id IN (SELECT s.id FROM software s
	WHERE NOT EXISTS (SELECT 1 FROM machine_software ms WHERE ms.software_id = s.id)
	AND NOT EXISTS (SELECT 1 FROM software_history h WHERE h.software_id = s.id) LIMIT %d)`, GCBatch)

// CollectSoftware runs CollectSoftwareSQL through exec (which returns the
// rows affected) until a batch deletes fewer than GCBatch rows or
// store.MaxSoftwareCollect rows are gone. Each statement is its own
// transaction.
func CollectSoftware(ctx context.Context, exec func(ctx context.Context, sql string) (int64, error)) (int64, error) {
	var total int64
	for total < store.MaxSoftwareCollect {
		n, err := exec(ctx, CollectSoftwareSQL)
		if err != nil {
			return total, fmt.Errorf("collect software: %w", err)
		}
		total += n
		if n < GCBatch {
			break
		}
	}
	return total, nil
}
