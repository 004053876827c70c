package store

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"
)

// SoftwareLink is a machine's pointer to a stored title+version.
type SoftwareLink struct {
	SoftwareID  int64
	Origin      string
	Title       string // Software.Title() of the row
	Shadowed    bool   // a Fleet entry the agent's list overrides
	Path        string
	InstalledAt time.Time
}

// SoftwareHistoryRow is a change to write in the history.
type SoftwareHistoryRow struct {
	SoftwareID int64
	Change     string
}

// SoftwareTx is what ReplaceSoftwareIn needs from a backend's write
// transaction; both SQL stores implement it so the merge rules live once.
type SoftwareTx interface {
	// MachineTenant returns the machine's tenant (and prepares what the
	// backend needs to write the machine's links); ErrNotFound if it does
	// not exist.
	MachineTenant(ctx context.Context, machineID string) (string, error)
	// SoftwareIDs returns the row ID of each item (in order), inserting the
	// rows not stored yet and refreshing vendor and, for origin fleet,
	// vulnerabilities.
	SoftwareIDs(ctx context.Context, items []Software, origin string) ([]int64, error)
	// SoftwareLinks returns all of the machine's links, of every origin.
	SoftwareLinks(ctx context.Context, machineID string) ([]SoftwareLink, error)
	// WriteSoftwareLinks deletes del and inserts or updates put.
	WriteSoftwareLinks(ctx context.Context, machineID string, del, put []SoftwareLink) error
	// AddSoftwareHistory appends history rows.
	AddSoftwareHistory(ctx context.Context, machineID string, at time.Time, rows []SoftwareHistoryRow) error
	// PutSoftwareList records the list's hash and size for the origin.
	PutSoftwareList(ctx context.Context, machineID, origin, hash string, count int, at time.Time) error
}

type linkKey struct {
	id     int64
	origin string
}

// ReplaceSoftwareIn applies a report inside tx (see
// SoftwareStore.ReplaceSoftware); r must be valid.
func ReplaceSoftwareIn(ctx context.Context, tx SoftwareTx, r SoftwareReport) (SoftwareDiff, error) {
	if _, err := tx.MachineTenant(ctx, r.MachineID); err != nil {
		return SoftwareDiff{}, err
	}
	items := DedupeSoftware(r.Items)
	ids, err := tx.SoftwareIDs(ctx, items, r.Origin)
	if err != nil {
		return SoftwareDiff{}, err
	}
	old, err := tx.SoftwareLinks(ctx, r.MachineID)
	if err != nil {
		return SoftwareDiff{}, err
	}
	next := make([]SoftwareLink, 0, len(old)+len(items))
	for _, l := range old {
		if l.Origin != r.Origin {
			next = append(next, l)
		}
	}
	seen := make(map[int64]bool, len(items))
	for i, it := range items {
		if seen[ids[i]] {
			continue
		}
		seen[ids[i]] = true
		next = append(next, SoftwareLink{SoftwareID: ids[i], Origin: r.Origin, Title: it.Title(),
			Path: it.Path, InstalledAt: it.InstalledAt.Truncate(time.Millisecond)})
	}
	shade(next)
	del, put := diffLinks(old, next)
	diff := SoftwareDiff{Baseline: true}
	for _, l := range old {
		if l.Origin == r.Origin {
			diff.Baseline = false
			break
		}
	}
	var hist []SoftwareHistoryRow
	if !diff.Baseline {
		before, after := visible(old), visible(next)
		for id := range after {
			if !before[id] {
				hist = append(hist, SoftwareHistoryRow{SoftwareID: id, Change: ChangeInstalled})
				diff.Installed++
			}
		}
		for id := range before {
			if !after[id] {
				hist = append(hist, SoftwareHistoryRow{SoftwareID: id, Change: ChangeRemoved})
				diff.Removed++
			}
		}
	}
	// Map order is random; history rows are written in a stable order.
	slices.SortFunc(hist, func(a, b SoftwareHistoryRow) int {
		return cmp.Or(strings.Compare(a.Change, b.Change), cmp.Compare(a.SoftwareID, b.SoftwareID))
	})
	if err := tx.WriteSoftwareLinks(ctx, r.MachineID, del, put); err != nil {
		return SoftwareDiff{}, err
	}
	if len(hist) > 0 {
		if err := tx.AddSoftwareHistory(ctx, r.MachineID, r.At, hist); err != nil {
			return SoftwareDiff{}, err
		}
	}
	return diff, tx.PutSoftwareList(ctx, r.MachineID, r.Origin, r.Hash, len(items), r.At)
}

// DedupeSoftware drops repeated entries (same name, version, source and
// bundle ID), keeping the first.
func DedupeSoftware(items []Software) []Software {
	seen := make(map[string]bool, len(items))
	out := make([]Software, 0, len(items))
	for _, it := range items {
		if k := it.Key(); !seen[k] {
			seen[k] = true
			out = append(out, it)
		}
	}
	return out
}

// shade marks the Fleet links whose title the agent reports.
func shade(links []SoftwareLink) {
	agent := map[string]bool{}
	for _, l := range links {
		if l.Origin == OriginAgent {
			agent[l.Title] = true
		}
	}
	for i := range links {
		links[i].Shadowed = links[i].Origin == OriginFleet && agent[links[i].Title]
	}
}

func visible(links []SoftwareLink) map[int64]bool {
	out := make(map[int64]bool, len(links))
	for _, l := range links {
		if !l.Shadowed {
			out[l.SoftwareID] = true
		}
	}
	return out
}

// diffLinks returns the links to delete and those to insert or update.
func diffLinks(old, next []SoftwareLink) (del, put []SoftwareLink) {
	oldBy := make(map[linkKey]SoftwareLink, len(old))
	for _, l := range old {
		oldBy[linkKey{l.SoftwareID, l.Origin}] = l
	}
	nextBy := make(map[linkKey]bool, len(next))
	for _, l := range next {
		k := linkKey{l.SoftwareID, l.Origin}
		nextBy[k] = true
		if o, ok := oldBy[k]; !ok || o.Shadowed != l.Shadowed || o.Path != l.Path || !o.InstalledAt.Equal(l.InstalledAt) {
			put = append(put, l)
		}
	}
	for _, l := range old {
		if !nextBy[linkKey{l.SoftwareID, l.Origin}] {
			del = append(del, l)
		}
	}
	return del, put
}
