package publish

import (
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/updater/channel"
)

func TestStateRoundTripAndRejects(t *testing.T) {
	f := &channel.File{}
	if err := f.Promote("agent", "stable", "1.0.0", 100); err != nil {
		t.Fatal(err)
	}
	if err := f.Promote("agent", "stable", "1.1.0", 5); err != nil {
		t.Fatal(err)
	}
	data, err := StateOf(f).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseState(data)
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Products["agent"]["stable"]; c.Version != "1.1.0" || c.Previous != "1.0.0" || c.Rollout != 5 {
		t.Fatalf("state %+v", c)
	}
	for name, bad := range map[string]string{
		"garbage":   "nope",
		"truncated": string(data[:len(data)/2]),
		"unknown":   `{"products":{},"x":1}`,
		"wrong":     `{"products":[]}`,
		"oversize":  `{"products":{}}` + strings.Repeat(" ", MaxStateSize),
	} {
		if _, err := ParseState([]byte(bad)); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}
