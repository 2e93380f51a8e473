package platform

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ServiceSpec is a service to register.
type ServiceSpec struct {
	Name        string
	DisplayName string
	Description string
	Exec        string
	Args        []string
	WorkingDir  string
	LogFile     string
	Env         map[string]string
	// Unit is the fully rendered unit file (systemd). When set it is written
	// as is; kardianos/service then enables it and reloads systemd.
	Unit []byte
	// Logrotate is an optional logrotate snippet written next to it.
	Logrotate []byte
}

// ServiceState is what the service manager says about a service.
type ServiceState struct {
	Installed bool   `json:"installed"`
	Active    string `json:"active"` // active, inactive, failed, activating, deactivating, unknown
	Sub       string `json:"sub,omitempty"`
	PID       int    `json:"pid,omitempty"`
	Restarts  int    `json:"restarts"`
	Since     string `json:"since,omitempty"`
	Note      string `json:"note,omitempty"`
}

// Running reports whether the service's main process is up.
func (s ServiceState) Running() bool {
	return s.Active == "active" && (s.Sub == "" || s.Sub == "running")
}

// ErrServiceNotInstalled is returned for a service that is not registered.
var ErrServiceNotInstalled = errors.New("service not installed")

// ServiceManager registers and drives services.
type ServiceManager interface {
	Install(spec ServiceSpec) (changed bool, err error) // idempotent
	Uninstall(name string) error                        // stops, disables, removes
	Start(name string) error
	Stop(name string) error
	Restart(name string) error
	Status(name string) (ServiceState, error)
	// WaitRunning waits until name has been running without a restart for
	// stable, failing at once on a crash or restart loop; it never waits
	// past ctx.
	WaitRunning(ctx context.Context, name string, stable time.Duration) (ServiceState, error)
}

// Services returns the service manager for p: the host's manager, or a
// file-only one under --root that writes unit files and calls nothing.
func (p *Platform) Services() ServiceManager {
	if p.Sandboxed() {
		return &fileServices{p: p}
	}
	return p.hostServices()
}

// CheckServiceSupport reports whether this host's service manager can run
// the connector, before anything is written: nil under --root, with
// systemd, and with SysV init on a host with start-stop-daemon (Debian
// family); otherwise an error wrapping ErrNotSupported that says what to do
// (OpenRC and other inits are refused, not half-served).
func (p *Platform) CheckServiceSupport() error {
	if p.Sandboxed() {
		return nil
	}
	return p.checkServiceSupport()
}

// ErrServiceUnhealthy is wrapped when a service crashes, restart-loops or
// does not stay up.
var ErrServiceUnhealthy = errors.New("service is not healthy")

// PollRunning is WaitRunning for managers that only answer Status: it polls
// until the service has been running without a restart for stable, or ctx
// ends. It fails at once when the service fails or restarts (a restart
// loop). It returns the last state seen.
func PollRunning(ctx context.Context, m ServiceManager, name string, stable time.Duration) (ServiceState, error) {
	firstRestarts := -1
	return pollStable(ctx, m.Status, name, stable, func(st ServiceState) (bool, error) {
		if st.Note != "" && st.Active == "unknown" {
			return true, nil // file-only manager: nothing to wait for
		}
		if firstRestarts < 0 {
			firstRestarts = st.Restarts
		}
		switch {
		case st.Sub == "auto-restart" || st.Restarts > firstRestarts:
			return true, fmt.Errorf("%w: %s exited after starting and systemd is restarting it (state %s/%s)", ErrServiceUnhealthy, name, st.Active, st.Sub)
		case st.Active == "failed":
			return true, fmt.Errorf("%w: %s exited after starting (state %s/%s)", ErrServiceUnhealthy, name, st.Active, st.Sub)
		}
		return false, nil
	})
}

// pollStable is the polling loop of every WaitRunning: it reads status
// until the service has been running for stable, or verdict ends the wait
// (a crash or restart the manager can tell: its error; nothing to wait
// for: nil), or ctx ends. It returns the last state seen.
func pollStable(ctx context.Context, status func(string) (ServiceState, error), name string, stable time.Duration, verdict func(ServiceState) (bool, error)) (ServiceState, error) {
	var last ServiceState
	var upSince time.Time
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := status(name)
		if err != nil {
			return st, err
		}
		last = st
		if done, err := verdict(st); done || err != nil {
			return st, err
		}
		if st.Running() {
			if upSince.IsZero() {
				upSince = time.Now()
			}
			if time.Since(upSince) >= stable {
				return st, nil
			}
		} else {
			upSince = time.Time{}
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("%w: %s did not stay running (state %s/%s, %d restarts): %v", ErrServiceUnhealthy, name, last.Active, last.Sub, last.Restarts, ctx.Err())
		case <-tick.C:
		}
	}
}
