//go:build linux

package platform

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/adldapctl/adldapctl/packaging"
)

// sysvPATH is the PATH init scripts and their tools run with: the same
// clean environment `service` gives them, so the admin's shell (an
// HTTP_PROXY, say, which the connector would prefer over config.json)
// never leaks into the service.
const sysvPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// sysvServices drives a Debian-family SysV init: an LSB script in
// /etc/init.d rendered by packaging.RenderSysVInit (start-stop-daemon with a
// pidfile), registered with update-rc.d (or rc?.d links written directly
// when update-rc.d is missing). SysV does not restart a crashed service:
// a process that died leaves its pidfile behind, which Status reports as
// "failed".
type sysvServices struct {
	etc     string // "/etc": init.d and rc?.d live below it
	script  string // the init script (Paths.UnitFile on a SysV host)
	pidFile string
	rotate  string // logrotate snippet path
	envFile string // sourced by the script when present (Paths.ServiceEnvFile)

	// run runs a command with the clean environment and returns its
	// combined output and exit code; err only when it could not run.
	run  func(name string, args ...string) (out string, code int, err error)
	look func(name string) (string, error)
}

var _ ServiceManager = (*sysvServices)(nil)

func newSysvServices(p *Platform) *sysvServices {
	return &sysvServices{
		etc:     join(p.Root, "/etc"),
		script:  p.Paths.UnitFile,
		pidFile: join(p.Root, "/run/"+ServiceName+".pid"),
		rotate:  p.Paths.LogrotateFile,
		envFile: p.Paths.ServiceEnvFile,
		run:     runClean,
		look:    lookSbin,
	}
}

// runClean runs name with only PATH set.
func runClean(name string, args ...string) (string, int, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = []string{"PATH=" + sysvPATH, "LANG=C"}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.Exited() {
		return string(out), ee.ExitCode(), nil
	}
	if err != nil {
		return string(out), -1, err
	}
	return string(out), 0, nil
}

// lookSbin finds a system tool even when the caller's PATH lacks the sbin
// folders (sudo without a login shell).
func lookSbin(name string) (string, error) {
	for _, dir := range filepath.SplitList(sysvPATH) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return exec.LookPath(name)
}

func (s *sysvServices) Install(spec ServiceSpec) (bool, error) {
	script, err := packaging.RenderSysVInit(packaging.SysVConfig{
		Name: spec.Name, Description: spec.Description,
		Exec: spec.Exec, Args: spec.Args, WorkingDir: spec.WorkingDir,
		LogFile: spec.LogFile, PIDFile: s.pidFile, Env: spec.Env, EnvFile: s.envFile,
	})
	if err != nil {
		return false, err
	}
	changed, err := writeIfChanged(s.script, script, 0o755)
	if err != nil {
		return false, err
	}
	if len(s.links(spec.Name)) == 0 {
		if err := s.register(spec.Name); err != nil {
			return false, err
		}
		changed = true
	}
	if spec.Logrotate != nil && s.rotate != "" {
		c, err := writeIfChanged(s.rotate, spec.Logrotate, 0o644)
		if err != nil {
			return false, err
		}
		changed = changed || c
	}
	return changed, nil
}

// Runlevels of the script's LSB header (Default-Start / Default-Stop).
var sysvStart, sysvStop = []string{"2", "3", "4", "5"}, []string{"0", "1", "6"}

func (s *sysvServices) register(name string) error {
	if tool, err := s.look("update-rc.d"); err == nil {
		out, code, err := s.run(tool, name, "defaults")
		if err != nil || code != 0 {
			return fmt.Errorf("update-rc.d %s defaults: exit %d %v: %s", name, code, err, strings.TrimSpace(out))
		}
		if len(s.links(name)) > 0 {
			return nil
		}
		// update-rc.d without insserv/rc folders did nothing: link ourselves.
	}
	target := "../init.d/" + name
	for _, lvls := range []struct {
		prefix string
		levels []string
	}{{"S01", sysvStart}, {"K01", sysvStop}} {
		for _, l := range lvls.levels {
			dir := filepath.Join(s.etc, "rc"+l+".d")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			link := filepath.Join(dir, lvls.prefix+name)
			if err := os.Symlink(target, link); err != nil && !os.IsExist(err) {
				return fmt.Errorf("register %s: %w", name, err)
			}
		}
	}
	return nil
}

// links lists the /etc/rc?.d links to name's script.
func (s *sysvServices) links(name string) []string {
	var out []string
	for _, l := range []string{"0", "1", "2", "3", "4", "5", "6", "S"} {
		m, _ := filepath.Glob(filepath.Join(s.etc, "rc"+l+".d", "[SK][0-9][0-9]"+name))
		for _, p := range m {
			if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSymlink != 0 {
				out = append(out, p)
			}
		}
	}
	return out
}

func (s *sysvServices) Uninstall(name string) error {
	_, serr := os.Stat(s.script)
	links := s.links(name)
	if os.IsNotExist(serr) && len(links) == 0 {
		return nil
	}
	var errs []error
	if serr == nil {
		if err := s.Stop(name); err != nil {
			errs = append(errs, err)
		}
	}
	if tool, err := s.look("update-rc.d"); err == nil && len(links) > 0 {
		// -f: the script is still there; update-rc.d refuses otherwise.
		if out, code, err := s.run(tool, "-f", name, "remove"); err != nil || code != 0 {
			errs = append(errs, fmt.Errorf("update-rc.d -f %s remove: exit %d %v: %s", name, code, err, strings.TrimSpace(out)))
		}
	}
	// Whatever update-rc.d left (or when it is missing): no link stays.
	for _, l := range s.links(name) {
		if err := os.Remove(l); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	for _, p := range []string{s.script, s.rotate, s.pidFile} {
		if p == "" {
			continue
		}
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *sysvServices) action(name, verb string) error {
	if _, err := os.Stat(s.script); os.IsNotExist(err) {
		return fmt.Errorf("%s %s: %w", verb, name, ErrServiceNotInstalled)
	}
	out, code, err := s.run(s.script, verb)
	if err != nil || code != 0 {
		return fmt.Errorf("%s %s: exit %d %v: %s", s.script, verb, code, err, strings.TrimSpace(out))
	}
	return nil
}

func (s *sysvServices) Start(name string) error   { return s.action(name, "start") }
func (s *sysvServices) Stop(name string) error    { return s.action(name, "stop") }
func (s *sysvServices) Restart(name string) error { return s.action(name, "restart") }

func (s *sysvServices) WaitRunning(ctx context.Context, name string, stable time.Duration) (ServiceState, error) {
	return PollRunning(ctx, s, name, stable)
}

// Status asks the script (start-stop-daemon --status: the pidfile's process
// is alive and is the service's executable) and maps its LSB exit code:
// 0 running, 1 dead with a pidfile left (it crashed: failed), 3 stopped.
func (s *sysvServices) Status(name string) (ServiceState, error) {
	if _, err := os.Stat(s.script); os.IsNotExist(err) {
		return ServiceState{Active: "inactive"}, nil
	}
	out, code, err := s.run(s.script, "status")
	if err != nil {
		return ServiceState{Installed: true, Active: "unknown"}, fmt.Errorf("%s status: %w", s.script, err)
	}
	st, ok := sysvState(code)
	if !ok {
		return st, fmt.Errorf("%s status: exit %d: %s", s.script, code, strings.TrimSpace(out))
	}
	// Exit 0 means start-stop-daemon found the pidfile's process alive
	// and running the service's executable.
	if code == 0 {
		if b, err := os.ReadFile(s.pidFile); err == nil {
			st.PID, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
	}
	if st.Active != "inactive" {
		if fi, err := os.Stat(s.pidFile); err == nil {
			st.Since = fi.ModTime().Format("Mon 2006-01-02 15:04:05 MST")
		}
	}
	return st, nil
}

// sysvState maps an LSB status exit code to a ServiceState; ok is false
// when the code says the state is unknown.
func sysvState(code int) (st ServiceState, ok bool) {
	st = ServiceState{Installed: true}
	switch code {
	case 0:
		st.Active, st.Sub = "active", "running"
	case 1, 2:
		// Dead with its pidfile (or lock) left: it exited without being
		// stopped, and SysV init does not restart it.
		st.Active, st.Sub = "failed", "dead"
	case 3:
		st.Active, st.Sub = "inactive", "dead"
	default:
		st.Active = "unknown"
		return st, false
	}
	return st, true
}
