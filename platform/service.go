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
func (s ServiceState) Running() bool { return s.Active == "active" && (s.Sub == "" || s.Sub == "running") }

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
}

// Services returns the service manager for p: the host's manager, or a
// file-only one under --root that writes unit files and calls nothing.
func (p *Platform) Services() ServiceManager {
	if p.Sandboxed() {
		return &fileServices{p: p}
	}
	return p.hostServices()
}

// WaitRunning polls until the service has been running and has not
// restarted for stable, or ctx ends. It returns the last state seen.
func WaitRunning(ctx context.Context, m ServiceManager, name string, stable time.Duration) (ServiceState, error) {
	var last ServiceState
	var upSince time.Time
	restarts := -1
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := m.Status(name)
		if err != nil {
			return st, err
		}
		last = st
		if st.Note != "" && st.Active == "unknown" {
			return st, nil // file-only manager: nothing to wait for
		}
		if st.Running() {
			if upSince.IsZero() || st.Restarts != restarts {
				upSince, restarts = time.Now(), st.Restarts
			}
			if time.Since(upSince) >= stable {
				return st, nil
			}
		} else {
			upSince = time.Time{}
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("service %s did not stay running (state %s/%s, %d restarts): %w", name, last.Active, last.Sub, last.Restarts, ctx.Err())
		case <-tick.C:
		}
	}
}
