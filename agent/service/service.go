// Package service runs the agent under the OS service manager (systemd,
// launchd, the Windows service control manager) through
// github.com/kardianos/service, and implements install, uninstall, start,
// stop and status.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"

	kservice "github.com/kardianos/service"
)

// Name is the service name on every OS.
const Name = "slipway-agent"

// ExitRestart is the exit status asking the service manager for a restart.
const ExitRestart = 3

// Runner is the long-running part (daemon.Daemon.Run).
type Runner func(ctx context.Context) error

// Config returns the service definition: `<exe> run` with the given extra
// arguments, restarted by the service manager when it exits.
func Config(args ...string) *kservice.Config {
	return &kservice.Config{
		Name:        Name,
		DisplayName: "Slipway agent",
		Description: "Reports this machine's inventory and health to Slipway and keeps it up to date.",
		Arguments:   append([]string{"run"}, args...),
		Option: kservice.KeyValue{
			"RunAtLoad": true, // launchd: start at boot
			// launchd: stderr to /var/log/slipway-agent.err.log. Not for
			// systemd, where kardianos/service would write
			// StandardError=file:/var/log/slipway-agent.err, which every
			// start overwrites from its first byte (a restart loses the
			// log of the crash before it): there stderr goes to the journal.
			"LogOutput": runtime.GOOS == "darwin",
			"Restart":   "always", // systemd
			"OnFailure": "restart",
			// systemd: the unit below (kardianos/service's own, plus the
			// update guard).
			"SystemdScript": systemdUnit,
		},
	}
}

// systemdUnit is the agent's systemd unit (a kardianos/service template):
// restart always, 2 minutes apart, at most 10 starts in 5 s; and after
// every exit, the previous binary a self-update kept (<exe>.previous, absent
// otherwise: "-" ignores that) runs `update-guard` with the service's
// arguments, which rolls back a new version that keeps crashing, even one
// that dies before its own start-up check (docs/updater.md).
const systemdUnit = `[Unit]
Description={{.Description}}
ConditionFileIsExecutable={{.Path|cmdEscape}}
StartLimitIntervalSec=5
StartLimitBurst=10

[Service]
ExecStart={{.Path|cmdEscape}}{{range .Arguments}} {{.|cmd}}{{end}}
ExecStopPost=-{{.Path|cmdEscape}}.previous update-guard{{range $i, $a := .Arguments}}{{if $i}} {{$a|cmd}}{{end}}{{end}}
{{if .Restart}}Restart={{.Restart}}{{end}}
RestartSec=120
EnvironmentFile=-/etc/sysconfig/{{.Name}}
{{range $k, $v := .EnvVars -}}
Environment={{$k}}={{$v}}
{{end -}}

[Install]
WantedBy=multi-user.target
`

type program struct {
	run    Runner
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
}

func (p *program) Start(kservice.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.mu.Lock()
	p.cancel, p.done = cancel, make(chan struct{})
	p.mu.Unlock()
	go func() {
		defer close(p.done)
		if err := p.run(ctx); err != nil && ctx.Err() == nil {
			// Restart after a self-update, or after a failure: exit
			// non-zero so systemd (Restart=always), launchd (KeepAlive)
			// or the Windows SCM (OnFailure=restart) starts us again.
			p.log.Error("agent exiting for a restart", "err", err)
			os.Exit(ExitRestart)
		}
	}()
	return nil
}

func (p *program) Stop(kservice.Service) error {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		return errors.New("agent did not stop within 10s")
	}
	return nil
}

// New returns the OS service wrapping run.
func New(cfg *kservice.Config, run Runner, log *slog.Logger) (kservice.Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s, err := kservice.New(&program{run: run, log: log}, cfg)
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	return s, nil
}

// Interactive reports whether the process runs from a terminal rather than
// under the service manager.
func Interactive() bool { return kservice.Interactive() }

// Control runs one of install, uninstall, start, stop, restart.
func Control(s kservice.Service, action string) error {
	if err := kservice.Control(s, action); err != nil {
		return fmt.Errorf("%s %s: %w", action, Name, err)
	}
	return nil
}

// Status describes the service state in words.
func Status(s kservice.Service) (string, error) {
	st, err := s.Status()
	if errors.Is(err, kservice.ErrNotInstalled) {
		return "not installed", nil
	}
	if err != nil {
		return "", fmt.Errorf("status %s: %w", Name, err)
	}
	switch st {
	case kservice.StatusRunning:
		return "running", nil
	case kservice.StatusStopped:
		return "stopped", nil
	default:
		return "unknown", nil
	}
}
