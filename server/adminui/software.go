package adminui

import (
	"encoding/base64"
	"errors"
	"net/http"
	"slices"

	"github.com/slipwayhq/slipway/server/pkgversion"
	"github.com/slipwayhq/slipway/server/store"
)

// maxSoftwareRows bounds the rows a machine page shows (the count says
// how many matched).
const maxSoftwareRows = 500

// machineSoftware is the software section of a machine page.
type machineSoftware struct {
	Items   []store.InstalledSoftware
	Total   int // entries matching the filter
	All     int // entries of the machine
	Shown   int
	Q       string
	Sort    string
	Desc    bool
	Sorts   []string
	History []store.SoftwareChange
}

// softwareSection loads a machine's software, filtered and sorted by the
// page's q, sort and order parameters.
func (u *UI) softwareSection(r *http.Request, machineID string) (machineSoftware, error) {
	v := r.URL.Query()
	d := machineSoftware{Q: v.Get("q"), Sort: v.Get("sort"), Desc: v.Get("order") == "desc", Sorts: store.SoftwareSorts}
	if len(d.Q) > 128 {
		return d, badRequest("the software filter is longer than 128 characters")
	}
	if d.Sort == "" {
		d.Sort = "name"
	}
	if !slices.Contains(store.SoftwareSorts, d.Sort) {
		return d, badRequest("unknown software sort")
	}
	all, err := u.st.ListMachineSoftware(r.Context(), machineID)
	if err != nil {
		return d, err
	}
	d.All = len(all)
	d.Items = store.FilterSoftware(all, d.Q, d.Sort, d.Desc, pkgversion.Compare)
	d.Total = len(d.Items)
	if len(d.Items) > maxSoftwareRows {
		d.Items = d.Items[:maxSoftwareRows]
	}
	d.Shown = len(d.Items)
	d.History, err = u.st.ListSoftwareHistory(r.Context(), machineID, 20)
	return d, err
}

// softwareData is the fleet-wide software search page.
type softwareData struct {
	Q    string
	Hits []store.SoftwareHit
	Next string // cursor of the next page
}

// softwarePage answers "which machines have X" (q = "firefox < 128"),
// within the admin's tenant, 50 machines a page.
func (u *UI) softwarePage(w http.ResponseWriter, r *http.Request) {
	const pageSize = 50
	d := softwareData{Q: r.URL.Query().Get("q")}
	if d.Q == "" {
		u.render(w, r, "software", http.StatusOK, page{Title: "Software", Nav: "software", Data: d})
		return
	}
	q, err := pkgversion.Parse(d.Q)
	if err != nil {
		u.render(w, r, "software", http.StatusBadRequest, page{Title: "Software", Nav: "software", Error: err.Error(), Data: d})
		return
	}
	s, _ := sessionFrom(r.Context())
	search := store.SoftwareSearch{TenantID: s.Tenant, Name: q.Name, Version: q.Match, Limit: pageSize + 1}
	if c := r.URL.Query().Get("cursor"); c != "" {
		after, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || len(after) > 128 {
			u.fail(w, r, badRequest("invalid cursor"))
			return
		}
		search.After = string(after)
	}
	d.Hits, err = u.st.FindSoftware(r.Context(), search)
	if errors.Is(err, store.ErrInvalid) {
		u.render(w, r, "software", http.StatusBadRequest, page{Title: "Software", Nav: "software",
			Error: "too many versions match; narrow the range", Data: d})
		return
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	if len(d.Hits) > pageSize {
		d.Hits = d.Hits[:pageSize]
		d.Next = base64.RawURLEncoding.EncodeToString([]byte(d.Hits[pageSize-1].MachineID))
	}
	u.render(w, r, "software", http.StatusOK, page{Title: "Software", Nav: "software", Data: d})
}
