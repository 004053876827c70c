//go:build windows

package service

import (
	"fmt"
	"time"

	"golang.org/x/sys/windows/svc/mgr"
)

// SetRecovery sets the installed service's recovery actions: restart after
// 5 s, 5 s, then 60 s, the failure count reset after a day, also when the
// service stops with a non-zero exit code. The agent exits to be restarted
// after a self-update, so without them the SCM would leave it stopped. The
// agent MSI runs `slipway-agent service-recovery` after installing the
// service (wixl cannot write the ServiceConfigFailureActions table).
func SetRecovery() error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("service recovery: connect to the service manager: %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(Name)
	if err != nil {
		return fmt.Errorf("service recovery: open %s: %w", Name, err)
	}
	defer s.Close()
	actions := []mgr.RecoveryAction{
		{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
		{Type: mgr.ServiceRestart, Delay: time.Minute},
	}
	if err := s.SetRecoveryActions(actions, uint32((24 * time.Hour).Seconds())); err != nil {
		return fmt.Errorf("service recovery: %w", err)
	}
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		return fmt.Errorf("service recovery: %w", err)
	}
	return nil
}
