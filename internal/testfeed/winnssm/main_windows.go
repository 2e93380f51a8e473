//go:build windows

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc"
)

// settle is how long the child must live before the service reports
// Running (real nssm waits its AppThrottle, 1.5 s by default).
const settle = time.Second

func main() {
	name := ""
	switch len(os.Args) {
	case 1:
	case 2:
		name = os.Args[1]
	default:
		fmt.Fprintln(os.Stderr, "nssm.exe (adldapctl test stand-in): only `nssm.exe [NAME]` run by the service control manager is implemented")
		os.Exit(2)
	}
	if err := svc.Run(name, &handler{name: name}); err != nil {
		fmt.Fprintf(os.Stderr, "nssm.exe: not started by the service control manager: %v\n", err)
		os.Exit(1)
	}
}

// params is a service's Parameters key, nssm's layout.
type params struct {
	Application, AppDirectory, AppParameters string
	AppStdout, AppStderr                     string
	AppEnvironment, AppEnvironmentExtra      []string
}

func readParams(service string) (*params, error) {
	path := `SYSTEM\CurrentControlSet\Services\` + service + `\Parameters`
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, path, registry.QUERY_VALUE)
	if err != nil {
		return nil, fmt.Errorf(`open HKLM\%s: %w`, path, err)
	}
	defer func() { _ = k.Close() }()
	str := func(name string) (string, error) {
		v, typ, err := k.GetStringValue(name)
		if errors.Is(err, registry.ErrNotExist) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf(`HKLM\%s\%s: %w`, path, name, err)
		}
		if typ == registry.EXPAND_SZ {
			return registry.ExpandString(v)
		}
		return v, nil
	}
	multi := func(name string) ([]string, error) {
		v, _, err := k.GetStringsValue(name)
		if errors.Is(err, registry.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf(`HKLM\%s\%s: %w`, path, name, err)
		}
		return v, nil
	}
	p := &params{}
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"Application", &p.Application}, {"AppDirectory", &p.AppDirectory}, {"AppParameters", &p.AppParameters},
		{"AppStdout", &p.AppStdout}, {"AppStderr", &p.AppStderr},
	} {
		if *f.dst, err = str(f.name); err != nil {
			return nil, err
		}
	}
	if p.AppEnvironment, err = multi("AppEnvironment"); err != nil {
		return nil, err
	}
	if p.AppEnvironmentExtra, err = multi("AppEnvironmentExtra"); err != nil {
		return nil, err
	}
	if p.Application == "" {
		return nil, fmt.Errorf(`HKLM\%s has no Application`, path)
	}
	if p.AppDirectory == "" {
		p.AppDirectory = filepath.Dir(p.Application)
	}
	return p, nil
}

// environ is base with entries replaced or added (names compared without
// case, as Windows does).
func environ(base, extra []string) []string {
	out := append([]string(nil), base...)
	for _, kv := range extra {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		replaced := false
		for i, e := range out {
			if ek, _, _ := strings.Cut(e, "="); strings.EqualFold(ek, k) {
				out[i], replaced = kv, true
				break
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

func openLog(name string) (io.WriteCloser, error) {
	if name == "" {
		return nil, nil
	}
	return os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
}

type handler struct{ name string }

func (h *handler) Execute(args []string, r <-chan svc.ChangeRequest, s chan<- svc.Status) (bool, uint32) {
	s <- svc.Status{State: svc.StartPending, WaitHint: 10000}
	name := h.name
	if len(args) > 0 && args[0] != "" {
		name = args[0]
	}
	logw := io.Writer(io.Discard)
	logf := func(format string, a ...any) {
		fmt.Fprintf(logw, "nssm (%s): "+format+"\n", append([]any{name}, a...)...)
	}
	if name == "" {
		return true, 2
	}
	p, err := readParams(name)
	if err != nil {
		return true, 2
	}
	stdout, err := openLog(p.AppStdout)
	if err != nil {
		return true, 3
	}
	if stdout != nil {
		defer stdout.Close()
	}
	stderr, err := openLog(p.AppStderr)
	if err != nil {
		return true, 3
	}
	if stderr != nil {
		defer stderr.Close()
		logw = stderr
	}
	cmd := &exec.Cmd{
		Path:        p.Application,
		Args:        []string{p.Application},
		Dir:         p.AppDirectory,
		SysProcAttr: &syscall.SysProcAttr{CmdLine: `"` + p.Application + `" ` + p.AppParameters},
	}
	base := os.Environ()
	if p.AppEnvironment != nil {
		base = p.AppEnvironment
	}
	cmd.Env = environ(base, p.AppEnvironmentExtra)
	if stdout != nil {
		cmd.Stdout = stdout
	}
	if stderr != nil {
		cmd.Stderr = stderr
	}
	if err := cmd.Start(); err != nil {
		logf("cannot start %s: %v", p.Application, err)
		return true, 4
	}
	logf("started %s (pid %d) in %s", p.Application, cmd.Process.Pid, p.AppDirectory)
	done := make(chan int, 1)
	go func() {
		err := cmd.Wait()
		code := cmd.ProcessState.ExitCode()
		if code == 0 || err != nil && code < 0 {
			code = 1
		}
		done <- code
	}()
	exited := func(code int) (bool, uint32) {
		logf("%s exited on its own (exit code %d): the service stops as failed", p.Application, code)
		return true, uint32(code)
	}
	select {
	case code := <-done:
		return exited(code)
	case <-time.After(settle):
	}
	const accepts = svc.AcceptStop | svc.AcceptShutdown
	s <- svc.Status{State: svc.Running, Accepts: accepts}
	for {
		select {
		case code := <-done:
			return exited(code)
		case c := <-r:
			switch c.Cmd {
			case svc.Interrogate:
				s <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				s <- svc.Status{State: svc.StopPending, WaitHint: 5000}
				_ = cmd.Process.Kill() // nssm's last resort; the stand-in node has nothing to flush
				select {
				case <-done:
				case <-time.After(5 * time.Second):
				}
				logf("stopped on request")
				return false, 0
			}
		}
	}
}
