//go:build linux

package platform

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/kardianos/service"
)

func (p *Platform) hostServices() ServiceManager {
	if p.Init == "systemd" {
		return &systemdServices{p: p}
	}
	return &genericServices{p: p}
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
	systemctl("stop", name+".service")
	systemctl("disable", name+".service")
	if err := os.Remove(s.p.Paths.UnitFile); err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := os.Remove(s.p.Paths.LogrotateFile); err != nil && !os.IsNotExist(err) {
		return err
	}
	systemctl("reset-failed", name+".service")
	return systemctl("daemon-reload")
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

// genericServices drives SysV/OpenRC through kardianos/service's own
// scripts. Output then goes where those scripts send it.
type genericServices struct{ p *Platform }

func (g *genericServices) svc(name string, spec *ServiceSpec) (service.Service, error) {
	c := &service.Config{Name: name}
	if spec != nil {
		c.DisplayName, c.Description = spec.DisplayName, spec.Description
		c.Executable, c.Arguments, c.WorkingDirectory = spec.Exec, spec.Args, spec.WorkingDir
	}
	return service.New(noopProgram{}, c)
}

func (g *genericServices) Install(spec ServiceSpec) (bool, error) {
	s, err := g.svc(spec.Name, &spec)
	if err != nil {
		return false, err
	}
	if _, err := s.Status(); err == nil {
		return false, nil
	}
	if err := s.Install(); err != nil {
		return false, fmt.Errorf("register %s with %s: %w", spec.Name, service.Platform(), err)
	}
	return true, nil
}

func (g *genericServices) do(name string, f func(service.Service) error) error {
	s, err := g.svc(name, nil)
	if err != nil {
		return err
	}
	return f(s)
}

func (g *genericServices) Uninstall(name string) error {
	return g.do(name, func(s service.Service) error { s.Stop(); return s.Uninstall() })
}
func (g *genericServices) Start(name string) error {
	return g.do(name, func(s service.Service) error { return s.Start() })
}
func (g *genericServices) Stop(name string) error {
	return g.do(name, func(s service.Service) error { return s.Stop() })
}
func (g *genericServices) Restart(name string) error {
	return g.do(name, func(s service.Service) error { return s.Restart() })
}
func (g *genericServices) WaitRunning(ctx context.Context, name string, stable time.Duration) (ServiceState, error) {
	return PollRunning(ctx, g, name, stable)
}

func (g *genericServices) Status(name string) (ServiceState, error) {
	s, err := g.svc(name, nil)
	if err != nil {
		return ServiceState{Active: "unknown"}, err
	}
	st, err := s.Status()
	switch {
	case err == service.ErrNotInstalled:
		return ServiceState{Active: "inactive"}, nil
	case err != nil:
		return ServiceState{Installed: true, Active: "unknown"}, nil
	case st == service.StatusRunning:
		return ServiceState{Installed: true, Active: "active", Sub: "running"}, nil
	default:
		return ServiceState{Installed: true, Active: "inactive"}, nil
	}
}
