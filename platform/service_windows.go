//go:build windows

package platform

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

func (p *Platform) hostServices() ServiceManager {
	return &windowsServices{timeout: DefaultServiceTimeout, companions: map[string]string{p.Service: p.AdminService}}
}

// checkServiceSupport: the service control manager must answer (it does
// on every Windows; a non-elevated process cannot open it for changes).
func (p *Platform) checkServiceSupport() error {
	m, err := connectSCM(windows.SC_MANAGER_ALL_ACCESS)
	if err != nil {
		return fmt.Errorf("cannot open the Windows service control manager for changes: %w; run from an elevated prompt (Run as administrator)", err)
	}
	return m.Disconnect()
}

// DefaultServiceTimeout bounds each start and stop of a Windows service:
// the SCM's own calls return at once, and adldapctl polls the state with a
// deadline instead of trusting a service to ever report (kardianos/service's
// Stop/Restart can block forever, NOTES.md).
const DefaultServiceTimeout = 60 * time.Second

// windowsServices drives services through the service control manager.
type windowsServices struct {
	timeout time.Duration
	// companions: a Restart of the key restarts the value too when it is
	// installed (the connector and its admin console).
	companions map[string]string
}

// recoveryActions restart the service 5 s after each of its first three
// failures in a day (then the SCM keeps restarting it the same way).
var recoveryActions = []mgr.RecoveryAction{
	{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
	{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
	{Type: mgr.ServiceRestart, Delay: 30 * time.Second},
}

const recoveryResetPeriod = 24 * 60 * 60 // seconds

// connectSCM opens the SCM with just the access asked (a status query
// needs no elevation).
func connectSCM(access uint32) (*mgr.Mgr, error) {
	h, err := windows.OpenSCManager(nil, nil, access)
	if err != nil {
		return nil, err
	}
	return &mgr.Mgr{Handle: h}, nil
}

// openService opens name with access; a missing service is
// ErrServiceNotInstalled.
func openService(m *mgr.Mgr, name string, access uint32) (*mgr.Service, error) {
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, err
	}
	h, err := windows.OpenService(m.Handle, p, access)
	if errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) {
		return nil, fmt.Errorf("%s: %w", name, ErrServiceNotInstalled)
	}
	if err != nil {
		return nil, fmt.Errorf("open service %s: %w", name, err)
	}
	return &mgr.Service{Name: name, Handle: h}, nil
}

// withService runs f on name opened with access.
func withService(name string, access uint32, f func(*mgr.Service) error) error {
	m, err := connectSCM(windows.SC_MANAGER_CONNECT)
	if err != nil {
		return fmt.Errorf("connect to the service control manager: %w", err)
	}
	defer m.Disconnect()
	s, err := openService(m, name, access)
	if err != nil {
		return err
	}
	defer s.Close()
	return f(s)
}

// commandLine is exe and args as the SCM's BinaryPathName (each quoted
// as CommandLineToArgvW reads it).
func commandLine(exe string, args []string) string {
	s := syscall.EscapeArg(exe)
	for _, a := range args {
		s += " " + syscall.EscapeArg(a)
	}
	return s
}

// Install creates spec's service, or repairs one that differs (command
// line, names, automatic start), sets the recovery actions (restart on
// failure) and merges spec.Env into the service's Environment value.
// Windows services have no working folder and no log file of their own:
// spec.WorkingDir and spec.LogFile are not used, so Args must name files
// by absolute path (or the service must be hosted by nssm, whose
// AppDirectory sets the folder).
func (w *windowsServices) Install(spec ServiceSpec) (bool, error) {
	if spec.Name == "" || spec.Exec == "" {
		return false, errors.New("service install: a name and a program are needed")
	}
	m, err := connectSCM(windows.SC_MANAGER_ALL_ACCESS)
	if err != nil {
		return false, fmt.Errorf("connect to the service control manager: %w; run from an elevated prompt", err)
	}
	defer m.Disconnect()
	display := spec.DisplayName
	if display == "" {
		display = spec.Name
	}
	changed := false
	s, err := openService(m, spec.Name, windows.SERVICE_ALL_ACCESS)
	switch {
	case errors.Is(err, ErrServiceNotInstalled):
		s, err = m.CreateService(spec.Name, spec.Exec, mgr.Config{
			DisplayName: display, Description: spec.Description,
			StartType: mgr.StartAutomatic, ErrorControl: mgr.ErrorNormal,
		}, spec.Args...)
		if err != nil {
			return false, fmt.Errorf("create service %s: %w", spec.Name, err)
		}
		changed = true
	case err != nil:
		return false, err
	default:
		cfg, err := queryConfig(s.Handle)
		if err != nil {
			s.Close()
			return false, fmt.Errorf("read the configuration of %s: %w", spec.Name, err)
		}
		want := svcConfig{ServiceType: windows.SERVICE_WIN32_OWN_PROCESS, StartType: mgr.StartAutomatic,
			BinaryPathName: commandLine(spec.Exec, spec.Args), DisplayName: display, Description: spec.Description}
		if cfg != want {
			if err := changeConfig(s.Handle, want); err != nil {
				s.Close()
				return false, fmt.Errorf("repair service %s: %w", spec.Name, err)
			}
			changed = true
		}
	}
	defer s.Close()
	// Wine's SCM takes the recovery actions but cannot report them
	// (ERROR_INVALID_LEVEL): they are then set on every Install, which
	// changes nothing and is not reported as a change.
	if cur, rerr := s.RecoveryActions(); rerr != nil || !sameRecovery(cur, recoveryActions) {
		if err := s.SetRecoveryActions(recoveryActions, recoveryResetPeriod); err != nil {
			return changed, fmt.Errorf("set the recovery actions of %s (restart on failure): %w", spec.Name, err)
		}
		changed = changed || rerr == nil
	}
	if len(spec.Env) > 0 {
		c, err := setRegEnv(serviceKeyPath(spec.Name), "Environment", spec.Env)
		if err != nil {
			return changed, fmt.Errorf("set the environment of %s: %w", spec.Name, err)
		}
		changed = changed || c
	}
	return changed, nil
}

func sameRecovery(a, b []mgr.RecoveryAction) bool {
	return slices.Equal(a, b)
}

func (w *windowsServices) Uninstall(name string) error {
	m, err := connectSCM(windows.SC_MANAGER_ALL_ACCESS)
	if err != nil {
		return fmt.Errorf("connect to the service control manager: %w; run from an elevated prompt", err)
	}
	defer m.Disconnect()
	s, err := openService(m, name, windows.SERVICE_ALL_ACCESS)
	if errors.Is(err, ErrServiceNotInstalled) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := w.stop(s); err != nil {
		s.Close()
		return err
	}
	err = s.Delete()
	s.Close()
	if err != nil && !errors.Is(err, windows.ERROR_SERVICE_MARKED_FOR_DELETE) {
		return fmt.Errorf("delete service %s: %w", name, err)
	}
	// The SCM removes it once every handle is closed: wait for that,
	// boundedly, so a following Install does not meet "marked for delete".
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		s, err := openService(m, name, windows.SERVICE_QUERY_STATUS)
		if errors.Is(err, ErrServiceNotInstalled) {
			return nil
		}
		if err == nil {
			s.Close()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

const controlAccess = windows.SERVICE_START | windows.SERVICE_STOP | windows.SERVICE_QUERY_STATUS

func (w *windowsServices) Start(name string) error {
	return withService(name, controlAccess, w.start)
}

func (w *windowsServices) Stop(name string) error {
	return withService(name, controlAccess, w.stop)
}

// Restart stops and starts name; for the connector it restarts the admin
// console's service too when that is installed (both read the same
// settings at start).
func (w *windowsServices) Restart(name string) error {
	names := []string{name}
	if c := w.companions[name]; c != "" {
		if st, err := w.Status(c); err == nil && st.Installed {
			names = append(names, c)
		}
	}
	for _, n := range names {
		if err := withService(n, controlAccess, w.stop); err != nil {
			return fmt.Errorf("restart %s: %w", n, err)
		}
	}
	for _, n := range names {
		if err := withService(n, controlAccess, w.start); err != nil {
			return fmt.Errorf("restart %s: %w", n, err)
		}
	}
	return nil
}

// start starts s and waits (bounded) until it runs: an immediate exit is
// an error here, not later.
func (w *windowsServices) start(s *mgr.Service) error {
	deadline := time.Now().Add(w.bound())
	st, err := s.Query()
	for err == nil && st.State == svc.StopPending && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		st, err = s.Query()
	}
	if err != nil {
		return fmt.Errorf("query service %s: %w", s.Name, err)
	}
	asked := time.Now()
	if st.State != svc.Running && st.State != svc.StartPending {
		if err := s.Start(); err != nil && !errors.Is(err, windows.ERROR_SERVICE_ALREADY_RUNNING) {
			return fmt.Errorf("start service %s: %w", s.Name, err)
		}
	}
	for {
		st, err := s.Query()
		if err != nil {
			return fmt.Errorf("query service %s: %w", s.Name, err)
		}
		switch {
		case st.State == svc.Running:
			return nil
		case st.State == svc.Stopped && (st.Win32ExitCode != 0 || time.Since(asked) > time.Second):
			// (a stopped state in the first second with no exit code
			// is the SCM not having picked the request up yet)
			return fmt.Errorf("%w: %s stopped right after starting (%s)", ErrServiceUnhealthy, s.Name, exitText(st))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s still %s after %v", ErrServiceUnhealthy, s.Name, stateName(st.State), w.bound())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop asks s to stop and waits, boundedly, until it has.
func (w *windowsServices) stop(s *mgr.Service) error {
	deadline := time.Now().Add(w.bound())
	asked := false
	for {
		st, err := s.Query()
		if err != nil {
			return fmt.Errorf("query service %s: %w", s.Name, err)
		}
		if st.State == svc.Stopped {
			return nil
		}
		if !asked && st.State != svc.StopPending && st.State != svc.StartPending {
			_, err := s.Control(svc.Stop)
			switch {
			case err == nil, errors.Is(err, windows.ERROR_SERVICE_NOT_ACTIVE):
				asked = true
			case errors.Is(err, windows.ERROR_SERVICE_CANNOT_ACCEPT_CTRL):
				// pending: ask again on the next round
			default:
				return fmt.Errorf("stop service %s: %w", s.Name, err)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s did not stop within %v (state %s, pid %d); end that process, then run the command again",
				ErrServiceUnhealthy, s.Name, w.bound(), stateName(st.State), st.ProcessId)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (w *windowsServices) bound() time.Duration {
	if w.timeout > 0 {
		return w.timeout
	}
	return DefaultServiceTimeout
}

func (w *windowsServices) Status(name string) (ServiceState, error) {
	var st ServiceState
	err := withService(name, windows.SERVICE_QUERY_STATUS, func(s *mgr.Service) error {
		q, err := s.Query()
		if err != nil {
			return fmt.Errorf("query service %s: %w", name, err)
		}
		st = stateOf(q)
		return nil
	})
	if errors.Is(err, ErrServiceNotInstalled) {
		return ServiceState{Active: "inactive"}, nil
	}
	if err != nil {
		return ServiceState{Active: "unknown"}, err
	}
	return st, nil
}

// stateOf maps the SCM's status to ServiceState: a stopped service that
// exited with an error is "failed".
func stateOf(q svc.Status) ServiceState {
	st := ServiceState{Installed: true, Sub: stateName(q.State), PID: int(q.ProcessId)}
	switch q.State {
	case svc.Running:
		st.Active = "active"
	case svc.StartPending, svc.ContinuePending:
		st.Active = "activating"
	case svc.StopPending, svc.PausePending:
		st.Active = "deactivating"
	case svc.Stopped:
		st.Active = "inactive"
		if q.Win32ExitCode != 0 && q.Win32ExitCode != uint32(windows.ERROR_SERVICE_NEVER_STARTED) {
			st.Active = "failed"
			st.Note = exitText(q)
		}
	case svc.Paused:
		st.Active = "inactive"
	default:
		st.Active = "unknown"
	}
	if q.State != svc.Running && q.State != svc.StopPending {
		st.PID = 0
	}
	return st
}

func exitText(q svc.Status) string {
	if q.Win32ExitCode == uint32(windows.ERROR_SERVICE_SPECIFIC_ERROR) {
		return fmt.Sprintf("service exit code %d", q.ServiceSpecificExitCode)
	}
	if q.Win32ExitCode == 0 {
		return "exit code 0"
	}
	return fmt.Sprintf("exit code %d: %v", q.Win32ExitCode, syscall.Errno(q.Win32ExitCode))
}

func stateName(s svc.State) string {
	switch s {
	case svc.Stopped:
		return "stopped"
	case svc.StartPending:
		return "start-pending"
	case svc.StopPending:
		return "stop-pending"
	case svc.Running:
		return "running"
	case svc.ContinuePending:
		return "continue-pending"
	case svc.PausePending:
		return "pause-pending"
	case svc.Paused:
		return "paused"
	}
	return fmt.Sprintf("state-%d", s)
}

// WaitRunning polls until name has been running with the same process for
// stable. A stop or failure fails at once; a new process id while it runs
// is a restart (the recovery actions at work after a crash) and fails too.
// Without a deadline on ctx it gives up after the service bound plus
// stable.
func (w *windowsServices) WaitRunning(ctx context.Context, name string, stable time.Duration) (ServiceState, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, w.bound()+stable)
		defer cancel()
	}
	pid := 0
	return pollStable(ctx, w.Status, name, stable, func(st ServiceState) (bool, error) {
		switch {
		case !st.Installed:
			return true, fmt.Errorf("%s: %w", name, ErrServiceNotInstalled)
		case st.Active == "failed":
			return true, fmt.Errorf("%w: %s exited after starting (%s)", ErrServiceUnhealthy, name, st.Note)
		case st.Active == "inactive":
			return true, fmt.Errorf("%w: %s is stopped (%s)", ErrServiceUnhealthy, name, st.Sub)
		case st.Running() && pid != 0 && st.PID != pid:
			return true, fmt.Errorf("%w: %s restarted (pid %d, then %d): it crashes and the service manager restarts it", ErrServiceUnhealthy, name, pid, st.PID)
		case st.Running():
			pid = st.PID
		}
		return false, nil
	})
}

var _ ServiceManager = (*windowsServices)(nil)
