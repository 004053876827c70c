package adminui

import (
	"encoding/json"
	"fmt"
	"html/template"
	"strings"

	"github.com/slipwayhq/slipway/server/store"
)

// chart is a small inline SVG line chart of cpu and memory (percent).
type chart struct {
	Series []series
	Empty  bool
}

type series struct {
	Name   string
	Class  string
	Points template.HTMLAttr // points="..." of an SVG polyline
	Last   string
}

const chartW, chartH = 600.0, 120.0

// metricsChart plots the percentages the agent reports (metrics.cpu,
// metrics.memory) over the heartbeats, oldest left.
func metricsChart(beats []store.Heartbeat) chart {
	names := []struct{ key, class string }{{"cpu", "cpu"}, {"memory", "mem"}}
	var c chart
	for _, n := range names {
		var pts []string
		last := ""
		for i := len(beats) - 1; i >= 0; i-- {
			var m map[string]any
			if json.Unmarshal(beats[i].Metrics, &m) != nil {
				continue
			}
			v, ok := m[n.key].(float64)
			if !ok || v < 0 || v > 100 {
				continue
			}
			x := chartW * float64(len(beats)-1-i) / float64(max(1, len(beats)-1))
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, chartH-v/100*chartH))
			last = fmt.Sprintf("%.1f%%", v)
		}
		if len(pts) > 0 {
			// Only numbers and commas: safe as an attribute value.
			c.Series = append(c.Series, series{Name: n.key, Class: n.class,
				Points: template.HTMLAttr(`points="` + strings.Join(pts, " ") + `"`), Last: last})
		}
	}
	c.Empty = len(c.Series) == 0
	return c
}
