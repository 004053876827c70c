// Package fleet is the fleet rehearsal: N simulated machines, each running
// the real agent heartbeat loop (heartbeat.Loop.Beat, with re-enrollment)
// and the real update client (client.Check and Download; the installed
// version is recorded instead of swapping a binary), against the real
// `slipway server` binary (built once with `-tags rehearsal`, which adds a
// clock, a release-store fault switch and the periodic tick that the
// harness drives over loopback; see internal/rehearsal), on SQLite or on
// PostgreSQL with replicas behind a round-robin, on a clock the scenario
// controls on both sides. A scenario file scripts releases, rollbacks, key
// rotations, restarts and kill -9, storage outages, offline machines,
// clock skew and a lossy network; Run reports what matters as JSON.
//
//	go test ./bench/fleet -run 'TestYearShort$' -v         # 200 machines, SQLite
//	FLEET_MACHINES=20 go test ./bench/fleet -run TestYearShortPostgres -v
//	go run ./bench/fleet/cmd/fleet -machines 500 -out result.json
package fleet

import (
	"fmt"
	"os"
	"time"

	"go.yaml.in/yaml/v3"
)

// Scenario is a rehearsal script (YAML, see testdata/).
type Scenario struct {
	Name     string  `yaml:"name"`
	Machines int     `yaml:"machines"`
	Days     float64 `yaml:"days"`
	// HeartbeatInterval is what the server asks machines for (SLIPWAY_HEARTBEAT_INTERVAL).
	HeartbeatInterval Duration `yaml:"heartbeat_interval"`
	// PollInterval is each machine's update check interval.
	PollInterval Duration `yaml:"poll_interval"`
	// Step is the simulated time between two rounds. Default: 1h.
	Step Duration `yaml:"step"`
	// Skewed machines run their clock Skew ahead (negative: behind).
	Skewed int      `yaml:"skewed"`
	Skew   Duration `yaml:"skew"`
	// Loss is the fraction of machine requests the network drops (a
	// connection reset before the server sees it, or a truncated answer).
	Loss float64 `yaml:"loss"`
	// RefreshEvery is how often the operator's scheduled `slipway tuf
	// refresh --within 60` runs. Default: 7 days.
	RefreshEvery Duration `yaml:"refresh_every"`
	// Workers run machines in parallel. Default: a quarter of the
	// machines, 8 to 64.
	Workers int `yaml:"workers"`
	// Replicas is how many server processes share a PostgreSQL database
	// (DatabaseURL), behind a round-robin. Default: 1. SQLite: always 1.
	Replicas int     `yaml:"replicas"`
	Events   []Event `yaml:"events"`
	// DatabaseURL, when set (by the caller, not the file), runs the
	// servers on that empty PostgreSQL database instead of SQLite.
	DatabaseURL string `yaml:"-"`
}

// Event is one scripted action at Day (fractional days from the start).
type Event struct {
	Day float64 `yaml:"day"`
	// Release publishes this agent version and promotes it to stable at
	// Rollout % (default 100: a staged rollout otherwise).
	Release string `yaml:"release,omitempty"`
	// Rollout is the percentage of a Release, or, alone, widens the
	// channel's current rollout to this percentage.
	Rollout float64 `yaml:"rollout,omitempty"`
	// Rollback moves stable back to its previous version.
	Rollback bool `yaml:"rollback,omitempty"`
	// Rotate replaces a TUF key (root, targets or online) or starts a
	// change of the minisign release key (minisign): the old key endorses
	// the new one, later releases are signed with the new key.
	Rotate string `yaml:"rotate,omitempty"`
	// RetireMinisign ends the release-key change's overlap: only the new
	// key is accepted from then on.
	RetireMinisign bool `yaml:"retire_minisign,omitempty"`
	// Restart stops every server process (SIGTERM) and starts it again
	// on the same database.
	Restart bool `yaml:"restart,omitempty"`
	// Kill is kill -9 of a server process, then a new one.
	Kill bool `yaml:"kill,omitempty"`
	// Pause stops the channel (releases promoted meanwhile are held);
	// Resume starts it again (held releases are measured from then).
	Pause  bool `yaml:"pause,omitempty"`
	Resume bool `yaml:"resume,omitempty"`
	// Pin holds this many machines on the channel's current version.
	Pin int `yaml:"pin,omitempty"`
	// Outage makes the release store fail for this long.
	Outage Duration `yaml:"outage,omitempty"`
	// Offline takes this many machines off the network for OfflineFor.
	Offline    int      `yaml:"offline,omitempty"`
	OfflineFor Duration `yaml:"offline_for,omitempty"`
}

// Duration is a time.Duration in YAML ("90s", "6h", "30d").
type Duration time.Duration

// UnmarshalYAML accepts Go durations plus a "d" (day) suffix.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// ParseDuration is time.ParseDuration with whole days ("30d").
func ParseDuration(s string) (time.Duration, error) {
	var days int
	if _, err := fmt.Sscanf(s, "%dd", &days); err == nil && fmt.Sprintf("%dd", days) == s {
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// Load reads and validates a scenario file.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Scenario
	if err := yaml.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

func (s *Scenario) validate() error {
	if s.Step == 0 {
		s.Step = Duration(time.Hour)
	}
	if s.RefreshEvery == 0 {
		s.RefreshEvery = Duration(7 * 24 * time.Hour)
	}
	if s.Workers <= 0 {
		// Enough in flight that the server's group commit batches
		// heartbeats: with a few, every round waits on fsyncs in turn.
		s.Workers = min(max(s.Machines/4, 8), 64)
	}
	switch {
	case s.Machines < 1 || s.Machines > 100000:
		return fmt.Errorf("machines %d: want 1..100000", s.Machines)
	case s.Days <= 0 || s.Days > 3650:
		return fmt.Errorf("days %v: want (0, 3650]", s.Days)
	case s.HeartbeatInterval < Duration(time.Second) || s.HeartbeatInterval > Duration(24*time.Hour):
		return fmt.Errorf("heartbeat_interval %v: want 1s..24h", time.Duration(s.HeartbeatInterval))
	case s.PollInterval < s.Step:
		return fmt.Errorf("poll_interval %v shorter than step %v", time.Duration(s.PollInterval), time.Duration(s.Step))
	case s.Skewed > s.Machines || s.Loss < 0 || s.Loss >= 1:
		return fmt.Errorf("skewed %d / loss %v out of range", s.Skewed, s.Loss)
	}
	for i, e := range s.Events {
		if e.Day < 0 || e.Day > s.Days {
			return fmt.Errorf("event %d: day %v outside the scenario", i, e.Day)
		}
		switch e.Rotate {
		case "", "root", "targets", "online", "minisign":
		default:
			return fmt.Errorf("event %d: rotate %q: want root, targets, online or minisign", i, e.Rotate)
		}
		if e.Rollout < 0 || e.Rollout > 100 {
			return fmt.Errorf("event %d: rollout %v: want 0..100", i, e.Rollout)
		}
		if e.Offline > s.Machines || e.Pin > s.Machines {
			return fmt.Errorf("event %d: offline %d > machines", i, e.Offline)
		}
	}
	return nil
}

// Resize sets the machine count, scaling the skewed and offline counts
// by the same factor (at least one machine each when the file has some).
func (s *Scenario) Resize(n int) {
	scale := func(k int) int {
		if k == 0 {
			return 0
		}
		return max(1, min(n, k*n/s.Machines))
	}
	s.Skewed = scale(s.Skewed)
	for i := range s.Events {
		s.Events[i].Offline = scale(s.Events[i].Offline)
		s.Events[i].Pin = scale(s.Events[i].Pin)
	}
	s.Machines = n
}

// Truncate shortens the scenario to its first days, dropping later events.
func (s *Scenario) Truncate(days float64) {
	s.Days = min(s.Days, days)
	var keep []Event
	for _, e := range s.Events {
		if e.Day < s.Days {
			keep = append(keep, e)
		}
	}
	s.Events = keep
}
