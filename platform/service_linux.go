//go:build linux

package platform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/kardianos/service"
)

func (p *Platform) hostServices() ServiceManager {
	if err := p.checkServiceSupport(); err != nil {
		return unsupportedServices{err: err, script: join(p.Root, "/etc/init.d/"+ServiceName)}
	}
	switch p.Init {
	case "systemd":
		return &systemdServices{p: p}
	default: // "sysv", checked above
		return newSysvServices(p)
	}
}

// checkServiceSupport: systemd, and SysV init on a host with
// start-stop-daemon (the Debian family), are driven for real. Anything
// else is refused before anything is written: kardianos/service's own
// SysV/OpenRC scripts start node without a working directory and leave
// rc?.d links behind, and we do not ship a half-working path.
func (p *Platform) checkServiceSupport() error {
	switch p.Init {
	case "systemd":
		return nil
	case "sysv":
		if _, err := lookSbin("start-stop-daemon"); err != nil {
			return p.unsupportedInit("sysv without start-stop-daemon")
		}
		if fi, err := os.Stat(join(p.Root, "/etc/init.d")); err != nil || !fi.IsDir() {
			return p.unsupportedInit("sysv without /etc/init.d")
		}
		return nil
	default:
		return p.unsupportedInit(p.Init)
	}
}

func (p *Platform) unsupportedInit(what string) error {
	return fmt.Errorf("this host's init system (%s) %w: install systemd, or run the connector under your own supervisor "+
		"(working directory %s, command `node server.js`, output appended to %s)",
		what, errInitNotSupported, p.Paths.InstallDir, p.Paths.LogFile)
}

// errInitNotSupported reads well inside the sentence above and is still
// ErrNotSupported for errors.Is.
var errInitNotSupported = fmt.Errorf("is %w", ErrNotSupported)

// unsupportedServices is the manager on a host whose init we do not drive:
// every call fails with the reason and what to do.
type unsupportedServices struct {
	err    error
	script string // /etc/init.d/<name>
}

func (u unsupportedServices) Install(ServiceSpec) (bool, error) { return false, u.err }

// Uninstall has nothing of ours to undo: nothing is registered on such a
// host. A script an older adldapctl registered through kardianos/service
// is named, not silently left behind.
func (u unsupportedServices) Uninstall(name string) error {
	if _, err := os.Stat(u.script); err == nil {
		return fmt.Errorf("%s was registered by an older adldapctl and %w; stop it and remove it and its runlevel links by hand (for OpenRC: rc-update del %s)",
			u.script, errInitNotSupported, name)
	}
	return nil
}
func (u unsupportedServices) Start(string) error   { return u.err }
func (u unsupportedServices) Stop(string) error    { return u.err }
func (u unsupportedServices) Restart(string) error { return u.err }
func (u unsupportedServices) Status(string) (ServiceState, error) {
	return ServiceState{Active: "unknown", Note: u.err.Error()}, u.err
}
func (u unsupportedServices) WaitRunning(context.Context, string, time.Duration) (ServiceState, error) {
	return u.Status("")
}

// systemdServices registers units through kardianos/service (with our own
// rendered unit as its SystemdScript) and reads state from systemctl.
type systemdServices struct{ p *Platform }

type noopProgram struct{}

func (noopProgram) Start(service.Service) error { return nil }
func (noopProgram) Stop(service.Service) error  { return nil }

func (s *systemdServices) kardianos(spec ServiceSpec) (service.Service, error) {
	return service.New(noopProgram{}, &service.Config{
		Name:             spec.Name,
		DisplayName:      spec.DisplayName,
		Description:      spec.Description,
		Executable:       spec.Exec,
		Arguments:        spec.Args,
		WorkingDirectory: spec.WorkingDir,
		Option:           service.KeyValue{"SystemdScript": string(spec.Unit)},
	})
}

func (s *systemdServices) Install(spec ServiceSpec) (bool, error) {
	if bytes.Contains(spec.Unit, []byte("{{")) {
		return false, fmt.Errorf("unit for %s contains template braces", spec.Name)
	}
	changed := false
	unit := s.p.Paths.UnitFile
	old, err := os.ReadFile(unit)
	switch {
	case os.IsNotExist(err):
		svc, err := s.kardianos(spec)
		if err != nil {
			return false, err
		}
		if err := svc.Install(); err != nil {
			return false, fmt.Errorf("register %s: %w", spec.Name, err)
		}
		changed = true
	case err != nil:
		return false, err
	default:
		if !bytes.Equal(old, spec.Unit) {
			if err := WriteFileAtomic(unit, spec.Unit, 0o644); err != nil {
				return false, err
			}
			changed = true
			if err := systemctl("daemon-reload"); err != nil {
				return false, err
			}
		}
		// enable is cheap when already enabled, but skip it then: it is on
		// the update's downtime path.
		if out, err := exec.Command("systemctl", "is-enabled", spec.Name+".service").Output(); err != nil || strings.TrimSpace(string(out)) != "enabled" {
			if err := systemctl("enable", spec.Name+".service"); err != nil {
				return false, err
			}
		}
	}
	if spec.Logrotate != nil {
		c, err := writeIfChanged(s.p.Paths.LogrotateFile, spec.Logrotate, 0o644)
		if err != nil {
			return false, err
		}
		changed = changed || c
	}
	return changed, nil
}

func (s *systemdServices) Uninstall(name string) error {
	if _, err := os.Stat(s.p.Paths.UnitFile); os.IsNotExist(err) {
		return nil
	}
	// Keep going on a failure: a half-removed service is worse than one
	// whose every step was tried; the errors are all reported.
	errs := []error{systemctl("stop", name+".service"), systemctl("disable", name+".service")}
	if err := os.Remove(s.p.Paths.UnitFile); err != nil && !os.IsNotExist(err) {
		errs = append(errs, err)
	}
	if err := os.Remove(s.p.Paths.LogrotateFile); err != nil && !os.IsNotExist(err) {
		errs = append(errs, err)
	}
	_ = systemctl("reset-failed", name+".service") // fails when it never failed: nothing to tell
	errs = append(errs, systemctl("daemon-reload"))
	return errors.Join(errs...)
}

func (s *systemdServices) Start(name string) error   { return systemctl("start", name+".service") }
func (s *systemdServices) Stop(name string) error    { return systemctl("stop", name+".service") }
func (s *systemdServices) Restart(name string) error { return systemctl("restart", name+".service") }

func (s *systemdServices) WaitRunning(ctx context.Context, name string, stable time.Duration) (ServiceState, error) {
	return PollRunning(ctx, s, name, stable)
}

func (s *systemdServices) Status(name string) (ServiceState, error) {
	out, err := exec.Command("systemctl", "show", name+".service",
		"-p", "LoadState,ActiveState,SubState,MainPID,NRestarts,ActiveEnterTimestamp").Output()
	if err != nil {
		return ServiceState{Active: "unknown"}, fmt.Errorf("systemctl show %s: %w", name, err)
	}
	kv := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			kv[k] = strings.TrimSpace(v)
		}
	}
	st := ServiceState{
		Installed: kv["LoadState"] == "loaded",
		Active:    kv["ActiveState"],
		Sub:       kv["SubState"],
		Since:     kv["ActiveEnterTimestamp"],
	}
	st.PID, _ = strconv.Atoi(kv["MainPID"])
	st.Restarts, _ = strconv.Atoi(kv["NRestarts"])
	return st, nil
}

func systemctl(args ...string) error {
	out, err := exec.Command("systemctl", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("systemctl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
