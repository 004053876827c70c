package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/server/store"
)

// testSoftwareSearchPages pages through the search of a mixed fleet (three
// tenants, machines with zero, one or two versions from the agent, some
// with a Fleet list, shadowed or not) at several page sizes and compares
// every page with the answer computed here. Page sizes of 1 and 3 make the
// one-statement search fall back to reading windows (other tenants'
// machines between a tenant's); 50 settles at once.
func testSoftwareSearchPages(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, id := range []string{"a", "b", "c"} {
		tenant(t, s, id)
	}
	r := rand.New(rand.NewPCG(17, 3))
	type entry struct{ tenant, id, versions string }
	var order []entry // in first-report order: the search's order
	for _, i := range r.Perm(60) {
		id := fmt.Sprintf("s%02d", i)
		tn := []string{"a", "a", "a", "b", "c"}[r.IntN(5)]
		must(t, s.CreateMachine(ctx, machine(tn, id, "fp"+id)))
		var agent, visible []string
		for range r.IntN(3) {
			agent = append(agent, fmt.Sprint(1+r.IntN(8)))
		}
		slices.Sort(agent)
		agent = slices.Compact(agent)
		items := []store.Software{deb("bash", "5.2")}
		for _, v := range agent {
			items = append(items, deb("firefox", v))
		}
		replace(t, s, id, store.OriginAgent, t0, items...)
		visible = agent
		if r.IntN(3) == 0 {
			v := fmt.Sprint(1 + r.IntN(8))
			replace(t, s, id, store.OriginFleet, t0, deb("Firefox", v))
			if len(agent) == 0 {
				visible = []string{v} // not shadowed: the agent reports no firefox
			}
		}
		var match []string
		for _, v := range visible {
			if v < "5" {
				match = append(match, v)
			}
		}
		if len(match) > 0 {
			order = append(order, entry{tn, id, strings.Join(match, ",")})
		}
	}
	for _, tn := range []string{"a", "b", ""} {
		var want []string
		for _, e := range order {
			if tn == "" || e.tenant == tn {
				want = append(want, e.id+":"+e.versions)
			}
		}
		for _, limit := range []int{1, 3, 7, 50} {
			var got []string
			after := ""
			for range 100 {
				hits, err := s.FindSoftware(ctx, store.SoftwareSearch{TenantID: tn, Name: "firefox",
					Version: func(v string) bool { return v < "5" }, After: after, Limit: limit})
				must(t, err)
				if len(hits) > limit {
					t.Fatalf("tenant %q limit %d: page of %d", tn, limit, len(hits))
				}
				if len(hits) == 0 {
					break
				}
				for _, h := range hits {
					var vs []string
					for _, sw := range h.Software {
						vs = append(vs, sw.Version)
					}
					got = append(got, h.MachineID+":"+strings.Join(vs, ","))
				}
				after = hits[len(hits)-1].MachineID
			}
			if g, w := strings.Join(got, " "), strings.Join(want, " "); g != w {
				t.Fatalf("tenant %q, pages of %d:\n got %s\nwant %s", tn, limit, g, w)
			}
		}
	}
}
