package sqlcol

import (
	"context"
	"fmt"
	"strings"

	"github.com/slipwayhq/slipway/server/store"
)

// SoftwareReader implements the read side of store.SoftwareStore; a
// store embeds it. Wrap maps the store's errors (with the operation name).
type SoftwareReader struct {
	Query Query
	Param func(n int) string
	Wrap  func(op string, err error) error
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
	err := r.Query(ctx, "SELECT "+installedColumns+` FROM machine_software ms JOIN software s ON s.id = ms.software_id
		WHERE ms.machine_id = `+a.add(machineID)+" AND ms.shadowed = 0 ORDER BY s.name_key, s.name, s.version, s.id",
		a.vals, func(row Scanner) error {
			s, err := scanInstalled(row)
			out = append(out, s)
			return err
		})
	return out, err
}

// maxVersions bounds the versions of one title a search considers.
const maxVersions = 5000

// findSoftware answers a search in three steps: the title's versions
// (filtered in Go: version order is not SQL's), one page of machine IDs
// from the partial search index, then the matching entries of that page.
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
	machines, err := r.searchPage(ctx, q, ids)
	if err != nil || len(machines) == 0 {
		return nil, err
	}
	return r.hits(ctx, machines, ids)
}

func (r SoftwareReader) searchPage(ctx context.Context, q store.SoftwareSearch, ids []any) ([]any, error) {
	a := r.args()
	// Placeholders in text order: SQLite's "?" are positional.
	where := "shadowed = 0"
	if q.TenantID != "" {
		where += " AND tenant_id = " + a.add(q.TenantID)
	}
	where += " AND software_id IN (" + a.list(ids...) + ")"
	if q.After != "" {
		where += " AND machine_id > " + a.add(q.After)
	}
	var machines []any
	err := r.Query(ctx, fmt.Sprintf("SELECT DISTINCT machine_id FROM machine_software WHERE %s ORDER BY machine_id LIMIT %d",
		where, q.Limit), a.vals, func(row Scanner) error {
		var id string
		err := row.Scan(&id)
		machines = append(machines, id)
		return err
	})
	return machines, err
}

func (r SoftwareReader) hits(ctx context.Context, machines, ids []any) ([]store.SoftwareHit, error) {
	a := r.args()
	var out []store.SoftwareHit
	err := r.Query(ctx, "SELECT m.id, m.tenant_id, m.hostname, "+installedColumns+` FROM machine_software ms
		JOIN software s ON s.id = ms.software_id JOIN machines m ON m.id = ms.machine_id
		WHERE ms.machine_id IN (`+a.list(machines...)+") AND ms.software_id IN ("+a.list(ids...)+
		") AND ms.shadowed = 0 ORDER BY m.id, s.version, s.id", a.vals, func(row Scanner) error {
		var h store.SoftwareHit
		s, err := scanInstalled(row, &h.MachineID, &h.TenantID, &h.Hostname)
		if err != nil {
			return err
		}
		if n := len(out); n > 0 && out[n-1].MachineID == h.MachineID {
			out[n-1].Software = append(out[n-1].Software, s)
		} else {
			h.Software = []store.InstalledSoftware{s}
			out = append(out, h)
		}
		return nil
	})
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
