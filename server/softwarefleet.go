package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/slipwayhq/slipway/server/fleet"
	"github.com/slipwayhq/slipway/server/store"
)

// fleetSoftware converts and validates every host's software array before
// the webhook changes anything; a nil list means the host had none in the
// payload. null entries are skipped; duplicates collapse when stored.
func fleetSoftware(hosts []fleet.Host) ([][]store.Software, error) {
	out := make([][]store.Software, len(hosts))
	for i, h := range hosts {
		if h.Software == nil {
			continue
		}
		field := fmt.Sprintf("hosts[%d].software", i)
		if len(h.Software) > store.MaxSoftwareItems {
			return nil, &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_many_entries", Field: field,
				Message: fmt.Sprintf("%d entries, more than %d", len(h.Software), store.MaxSoftwareItems)}
		}
		list := make([]store.Software, 0, len(h.Software))
		for j, fs := range h.Software {
			if fs.IsNull() {
				continue
			}
			sw := store.Software{Name: fs.Name, Version: fs.Version, Source: fs.Source, Vendor: fs.Vendor,
				BundleID: fs.BundleIdentifier}
			if len(fs.InstalledPaths) > 0 {
				sw.Path = fs.InstalledPaths[0]
			}
			for _, v := range fs.Vulnerabilities {
				if v.CVE != "" && !slices.Contains(sw.Vulnerabilities, v.CVE) {
					sw.Vulnerabilities = append(sw.Vulnerabilities, v.CVE)
				}
			}
			if err := softwareCheck(fmt.Sprintf("%s[%d]", field, j), sw); err != nil {
				return nil, err
			}
			list = append(list, sw)
		}
		out[i] = list
	}
	return out, nil
}

// fleetHash is the hash of a Fleet list as stored: the deduplicated
// entries in key order, vulnerabilities included.
func fleetHash(items []store.Software) string {
	sorted := store.DedupeSoftware(items)
	slices.SortFunc(sorted, func(a, b store.Software) int { return strings.Compare(a.Key(), b.Key()) })
	b, _ := json.Marshal(sorted)
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// storeFleetSoftware makes items the machine's Fleet list, unless it is
// the list already stored (Fleet pushes the same list again and again).
func (s *Server) storeFleetSoftware(ctx context.Context, machineID string, items []store.Software) error {
	if items == nil {
		return nil
	}
	hash := fleetHash(items)
	if stored, err := s.st.SoftwareHash(ctx, machineID, store.OriginFleet); err != nil || stored == hash {
		return err
	}
	_, err := s.st.ReplaceSoftware(ctx, store.SoftwareReport{MachineID: machineID, Origin: store.OriginFleet,
		Hash: hash, Items: items, At: s.now().UTC()})
	return err
}
