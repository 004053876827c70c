package sqlcol

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// The software inventory's SQL (tables software, software_machines,
// machine_software, machine_software_lists, software_history of migrations
// 0007 and 0014) is the same
// text on SQLite and PostgreSQL but for placeholders, so both stores run
// this code through two small functions of their own.

// Exec runs a statement.
type Exec func(ctx context.Context, sql string, args ...any) error

// Query runs a query and calls row for each result row.
type Query func(ctx context.Context, sql string, args []any, row func(Scanner) error) error

// OriginCode is how an origin is stored in machine_software.
func OriginCode(origin string) int {
	if origin == store.OriginFleet {
		return 2
	}
	return 1
}

// OriginName is the inverse of OriginCode.
func OriginName(code int) string {
	if code == 2 {
		return store.OriginFleet
	}
	return store.OriginAgent
}

// args numbers placeholders as they are added.
type args struct {
	param func(n int) string
	vals  []any
}

func (a *args) add(v any) string {
	a.vals = append(a.vals, v)
	return a.param(len(a.vals))
}

// list adds each value and returns "p1, p2, ...".
func (a *args) list(vs ...any) string {
	ps := make([]string, len(vs))
	for i, v := range vs {
		ps[i] = a.add(v)
	}
	return strings.Join(ps, ", ")
}

// chunk is how many rows one multi-row statement carries (SQLite allows
// 32766 parameters, PostgreSQL 65535).
const chunk = 200

// cached is what the store knows of a software row.
type cached struct {
	id     int64
	vendor string
	vulns  string
}

// SoftwareCache maps software keys to their row. Rows are never renumbered
// but the garbage collection (CollectSoftware) deletes rows no machine and
// no history refers to: a cached ID can then be stale, and using it fails
// on machine_software's foreign key; the stores then Reset the cache and
// retry once. Bounded: it starts over when full.
type SoftwareCache struct {
	mu sync.Mutex
	m  map[string]cached
}

const maxCached = 500_000

// NewSoftwareCache returns an empty cache.
func NewSoftwareCache() *SoftwareCache { return &SoftwareCache{m: map[string]cached{}} }

func (c *SoftwareCache) get(k string) (cached, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

// Reset forgets every row.
func (c *SoftwareCache) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = map[string]cached{}
}

func (c *SoftwareCache) add(learned map[string]cached) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m)+len(learned) > maxCached {
		c.m = map[string]cached{}
	}
	for k, v := range learned {
		c.m[k] = v
	}
}

// SoftwareTx implements store.SoftwareTx on a transaction's Exec and Query.
// Call Commit after the transaction commits. One SoftwareTx may apply
// several reports in one transaction (SQLite's group commit), each in a
// savepoint: Mark before a report and Undo when its savepoint is rolled
// back forget what the report learned.
type SoftwareTx struct {
	Exec    Exec
	Query   Query
	Param   func(n int) string
	Cache   *SoftwareCache
	learned map[string]cached
	undo    []undoEntry
	keys    map[string]int64 // machine ID → software_machines.id, set by MachineTenant
}

type undoEntry struct {
	key  string
	prev cached
	had  bool
}

// Mark starts a report: Undo forgets what is learned after it.
func (t *SoftwareTx) Mark() { t.undo = t.undo[:0] }

// Undo forgets the rows learned since Mark (their savepoint was rolled back).
func (t *SoftwareTx) Undo() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		u := t.undo[i]
		if u.had {
			t.learned[u.key] = u.prev
		} else {
			delete(t.learned, u.key)
		}
	}
	t.undo = t.undo[:0]
}

func (t *SoftwareTx) learn(k string, c cached) {
	if t.learned == nil {
		t.learned = map[string]cached{}
	}
	prev, had := t.learned[k]
	t.undo = append(t.undo, undoEntry{key: k, prev: prev, had: had})
	t.learned[k] = c
}

// lookup returns the row of k known to this transaction or the cache.
func (t *SoftwareTx) lookup(k string) (cached, bool) {
	if c, ok := t.learned[k]; ok {
		return c, true
	}
	return t.Cache.get(k)
}

var _ store.SoftwareTx = (*SoftwareTx)(nil)

func (t *SoftwareTx) args() *args { return &args{param: t.Param} }

// Commit adds the rows the transaction learned to the cache.
func (t *SoftwareTx) Commit() {
	if len(t.learned) > 0 {
		t.Cache.add(t.learned)
	}
}

// MachineTenant returns the machine's tenant and resolves (creating it
// when needed) the machine's key in software_machines.
func (t *SoftwareTx) MachineTenant(ctx context.Context, machineID string) (string, error) {
	a := t.args()
	var tenant string
	var key *int64
	found := false
	err := t.Query(ctx, `SELECT m.tenant_id, k.id FROM machines m LEFT JOIN software_machines k ON k.machine_id = m.id
		WHERE m.id = `+a.add(machineID), a.vals, func(r Scanner) error {
		found = true
		return r.Scan(&tenant, &key)
	})
	if err == nil && !found {
		err = fmt.Errorf("machine %s: %w", machineID, store.ErrNotFound)
	}
	if err != nil {
		return "", err
	}
	if key == nil {
		key = new(int64)
		a = t.args()
		err = t.Query(ctx, "INSERT INTO software_machines (machine_id, tenant_id) VALUES ("+a.list(machineID, tenant)+") RETURNING id",
			a.vals, func(r Scanner) error { return r.Scan(key) })
		if err != nil {
			return "", fmt.Errorf("machine key: %w", err)
		}
	}
	if t.keys == nil {
		t.keys = map[string]int64{}
	}
	t.keys[machineID] = *key
	return tenant, nil
}

// key is the machine's key; MachineTenant resolved it.
func (t *SoftwareTx) key(machineID string) (int64, error) {
	k, ok := t.keys[machineID]
	if !ok {
		return 0, fmt.Errorf("machine %s: key not resolved", machineID)
	}
	return k, nil
}

// Vulns encodes a vulnerability list as stored.
func Vulns(v []string) string { return strings.Join(v, " ") }

// SoftwareIDs resolves (inserting when needed) each item's row.
func (t *SoftwareTx) SoftwareIDs(ctx context.Context, items []store.Software, origin string) ([]int64, error) {
	ids := make([]int64, len(items))
	var missing []int
	for i, it := range items {
		if c, ok := t.lookup(it.Key()); ok {
			ids[i] = c.id
			if err := t.refresh(ctx, it, c, origin); err != nil {
				return nil, err
			}
		} else {
			missing = append(missing, i)
		}
	}
	// Inserted in key order: two transactions inserting the same new rows
	// in different orders deadlock on PostgreSQL (seen with the old code
	// under 32 concurrent first uploads).
	slices.SortFunc(missing, func(i, j int) int { return strings.Compare(items[i].Key(), items[j].Key()) })
	for start := 0; start < len(missing); start += chunk {
		part := missing[start:min(start+chunk, len(missing))]
		if err := t.resolve(ctx, items, part, ids, origin); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// resolve inserts the rows of items[part] not stored yet and reads their IDs.
func (t *SoftwareTx) resolve(ctx context.Context, items []store.Software, part []int, ids []int64, origin string) error {
	ins, sel := t.args(), t.args()
	var rows, keys []string
	for _, i := range part {
		it := items[i]
		vulns := ""
		if origin == store.OriginFleet {
			vulns = Vulns(it.Vulnerabilities)
		}
		rows = append(rows, "("+ins.list(it.Name, strings.ToLower(it.Name), it.Version, it.Source, it.BundleID, it.Vendor, vulns)+")")
		keys = append(keys, "("+sel.list(it.Name, it.Version, it.Source, it.BundleID)+")")
	}
	if err := t.Exec(ctx, "INSERT INTO software (name, name_key, version, source, bundle_id, vendor, vulnerabilities) VALUES "+
		strings.Join(rows, ", ")+" ON CONFLICT (name, version, source, bundle_id) DO NOTHING", ins.vals...); err != nil {
		return fmt.Errorf("insert software: %w", err)
	}
	found := map[string]cached{}
	err := t.Query(ctx, "SELECT id, name, version, source, bundle_id, vendor, vulnerabilities FROM software WHERE (name, version, source, bundle_id) IN ("+
		strings.Join(keys, ", ")+")", sel.vals, func(r Scanner) error {
		var s store.Software
		var c cached
		if err := r.Scan(&c.id, &s.Name, &s.Version, &s.Source, &s.BundleID, &c.vendor, &c.vulns); err != nil {
			return err
		}
		found[s.Key()] = c
		return nil
	})
	if err != nil {
		return fmt.Errorf("read software: %w", err)
	}
	for _, i := range part {
		c, ok := found[items[i].Key()]
		if !ok {
			return fmt.Errorf("software row of %q vanished", items[i].Name)
		}
		ids[i] = c.id
		if err := t.refresh(ctx, items[i], c, origin); err != nil {
			return err
		}
	}
	return nil
}

// refresh updates a row's vendor (when reported) and, from Fleet, its
// vulnerabilities, when they differ from c.
func (t *SoftwareTx) refresh(ctx context.Context, it store.Software, c cached, origin string) error {
	vendor, vulns := c.vendor, c.vulns
	if it.Vendor != "" {
		vendor = it.Vendor
	}
	if origin == store.OriginFleet {
		vulns = Vulns(it.Vulnerabilities)
	}
	if vendor != c.vendor || vulns != c.vulns {
		a := t.args()
		if err := t.Exec(ctx, "UPDATE software SET vendor = "+a.add(vendor)+", vulnerabilities = "+a.add(vulns)+
			" WHERE id = "+a.add(c.id), a.vals...); err != nil {
			return fmt.Errorf("update software: %w", err)
		}
	}
	t.learn(it.Key(), cached{id: c.id, vendor: vendor, vulns: vulns})
	return nil
}

// SoftwareLinks reads all of a machine's links.
func (t *SoftwareTx) SoftwareLinks(ctx context.Context, machineID string) ([]store.SoftwareLink, error) {
	key, err := t.key(machineID)
	if err != nil {
		return nil, err
	}
	a := t.args()
	var out []store.SoftwareLink
	err = t.Query(ctx, `SELECT ms.software_id, ms.origin, ms.shadowed, ms.path, ms.installed_at, s.name_key, s.source
		FROM machine_software ms JOIN software s ON s.id = ms.software_id WHERE ms.machine_key = `+a.add(key),
		a.vals, func(r Scanner) error {
			var l store.SoftwareLink
			var origin, shadowed int
			var at int64
			var nameKey, source string
			if err := r.Scan(&l.SoftwareID, &origin, &shadowed, &l.Path, &at, &nameKey, &source); err != nil {
				return err
			}
			l.Origin, l.Shadowed, l.InstalledAt = OriginName(origin), shadowed != 0, Time(at)
			l.Title = nameKey + "\x00" + source
			out = append(out, l)
			return nil
		})
	return out, err
}

// WriteSoftwareLinks deletes del and upserts put, in multi-row statements.
func (t *SoftwareTx) WriteSoftwareLinks(ctx context.Context, machineID string, del, put []store.SoftwareLink) error {
	key, err := t.key(machineID)
	if err != nil {
		return err
	}
	for start := 0; start < len(del); start += chunk {
		a := t.args()
		// Placeholders in text order: SQLite's "?" are positional.
		q := "DELETE FROM machine_software WHERE machine_key = " + a.add(key) + " AND (software_id, origin) IN ("
		var conds []string
		for _, l := range del[start:min(start+chunk, len(del))] {
			conds = append(conds, "("+a.list(l.SoftwareID, OriginCode(l.Origin))+")")
		}
		q += strings.Join(conds, ", ") + ")"
		if err := t.Exec(ctx, q, a.vals...); err != nil {
			return fmt.Errorf("delete links: %w", err)
		}
	}
	for start := 0; start < len(put); start += chunk {
		a := t.args()
		var rows []string
		for _, l := range put[start:min(start+chunk, len(put))] {
			rows = append(rows, "("+a.list(key, l.SoftwareID, OriginCode(l.Origin),
				boolInt(l.Shadowed), Millis(l.InstalledAt), l.Path)+")")
		}
		q := "INSERT INTO machine_software (machine_key, software_id, origin, shadowed, installed_at, path) VALUES " +
			strings.Join(rows, ", ") + ` ON CONFLICT (machine_key, software_id, origin) DO UPDATE SET
			shadowed = excluded.shadowed, installed_at = excluded.installed_at, path = excluded.path`
		if err := t.Exec(ctx, q, a.vals...); err != nil {
			return fmt.Errorf("write links: %w", err)
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// AddSoftwareHistory appends history rows.
func (t *SoftwareTx) AddSoftwareHistory(ctx context.Context, machineID string, at time.Time, hist []store.SoftwareHistoryRow) error {
	for start := 0; start < len(hist); start += chunk {
		a := t.args()
		var rows []string
		for _, h := range hist[start:min(start+chunk, len(hist))] {
			rows = append(rows, "("+a.list(machineID, Millis(at), h.SoftwareID, h.Change)+")")
		}
		if err := t.Exec(ctx, "INSERT INTO software_history (machine_id, at, software_id, change) VALUES "+
			strings.Join(rows, ", "), a.vals...); err != nil {
			return fmt.Errorf("write history: %w", err)
		}
	}
	return nil
}

// PutSoftwareList records the list's hash.
func (t *SoftwareTx) PutSoftwareList(ctx context.Context, machineID, origin, hash string, count int, at time.Time) error {
	a := t.args()
	q := "INSERT INTO machine_software_lists (machine_id, origin, hash, count, updated_at) VALUES (" +
		a.list(machineID, OriginCode(origin), hash, count, Millis(at)) + `) ON CONFLICT (machine_id, origin) DO UPDATE SET
		hash = excluded.hash, count = excluded.count, updated_at = excluded.updated_at`
	if err := t.Exec(ctx, q, a.vals...); err != nil {
		return fmt.Errorf("write list hash: %w", err)
	}
	return nil
}
