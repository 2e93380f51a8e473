//go:build linux

package platform

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// fakeInit records the commands a sysvServices runs and answers `status`
// with the exit codes queued in status (the last one repeats).
type fakeInit struct {
	t       *testing.T
	etc     string
	calls   []string
	status  []int
	rcTool  bool // update-rc.d present
	rcLinks bool // and it writes links (insserv present)
}

func (f *fakeInit) run(name string, args ...string) (string, int, error) {
	call := filepath.Base(name) + " " + strings.Join(args, " ")
	f.calls = append(f.calls, call)
	switch {
	case strings.HasSuffix(call, " status"):
		code := f.status[0]
		if len(f.status) > 1 {
			f.status = f.status[1:]
		}
		return "", code, nil
	case strings.HasPrefix(call, "update-rc.d ") && strings.HasSuffix(call, " defaults") && f.rcLinks:
		for _, l := range []string{"rc2.d/S01", "rc3.d/S01", "rc0.d/K01"} {
			os.MkdirAll(filepath.Join(f.etc, filepath.Dir(l)), 0o755)
			if err := os.Symlink("../init.d/auth0-adldap", filepath.Join(f.etc, l+"auth0-adldap")); err != nil {
				f.t.Fatal(err)
			}
		}
	}
	return "", 0, nil
}

func (f *fakeInit) look(name string) (string, error) {
	if name == "update-rc.d" && f.rcTool {
		return "/usr/sbin/update-rc.d", nil
	}
	return "", errors.New("not found")
}

func newFakeSysv(t *testing.T, f *fakeInit) *sysvServices {
	t.Helper()
	dir := t.TempDir()
	f.t, f.etc = t, filepath.Join(dir, "etc")
	os.MkdirAll(filepath.Join(f.etc, "init.d"), 0o755)
	return &sysvServices{
		etc:     f.etc,
		script:  filepath.Join(f.etc, "init.d", ServiceName),
		pidFile: filepath.Join(dir, "run", ServiceName+".pid"),
		rotate:  filepath.Join(f.etc, "logrotate.d", ServiceName),
		run:     f.run,
		look:    f.look,
	}
}

var sysvSpec = ServiceSpec{
	Name: ServiceName, Description: "Auth0 AD/LDAP Connector",
	Exec: "/usr/bin/node", Args: []string{"server.js"},
	WorkingDir: "/opt/auth0-adldap", LogFile: "/var/log/auth0-adldap.log",
	Env: map[string]string{"NODE_ENV": "production"}, Logrotate: []byte("rotate\n"),
	Unit: []byte("[Unit]\n"),
}

func linkNames(s *sysvServices) []string {
	var out []string
	for _, l := range s.links(ServiceName) {
		rel, _ := filepath.Rel(s.etc, l)
		out = append(out, rel)
	}
	sort.Strings(out)
	return out
}

func TestSysvInstallWritesScriptAndLinksItself(t *testing.T) {
	f := &fakeInit{}
	s := newFakeSysv(t, f)
	changed, err := s.Install(sysvSpec)
	if err != nil || !changed {
		t.Fatalf("Install: changed %v err %v", changed, err)
	}
	b, err := os.ReadFile(s.script)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"WORKDIR=/opt/auth0-adldap\n", "--chdir \"$WORKDIR\"", "LOGFILE=/var/log/auth0-adldap.log\n",
		"PIDFILE=" + s.pidFile + "\n", "export NODE_ENV=production\n", "-- server.js || return\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("script lacks %q", want)
		}
	}
	if fi, _ := os.Stat(s.script); fi.Mode().Perm() != 0o755 {
		t.Errorf("script mode %v", fi.Mode())
	}
	want := []string{"rc0.d/K01auth0-adldap", "rc1.d/K01auth0-adldap", "rc2.d/S01auth0-adldap", "rc3.d/S01auth0-adldap",
		"rc4.d/S01auth0-adldap", "rc5.d/S01auth0-adldap", "rc6.d/K01auth0-adldap"}
	if got := linkNames(s); !reflect.DeepEqual(got, want) {
		t.Errorf("links without update-rc.d: %v, want %v", got, want)
	}
	if target, _ := os.Readlink(filepath.Join(s.etc, "rc2.d/S01auth0-adldap")); target != "../init.d/auth0-adldap" {
		t.Errorf("link target %q", target)
	}
	if b, _ := os.ReadFile(s.rotate); string(b) != "rotate\n" {
		t.Errorf("logrotate snippet %q", b)
	}
	if len(f.calls) != 0 {
		t.Errorf("commands run: %v", f.calls)
	}
	// Idempotent: nothing changes, nothing runs.
	if changed, err := s.Install(sysvSpec); err != nil || changed {
		t.Errorf("second Install: changed %v err %v", changed, err)
	}
}

func TestSysvInstallUninstallWithUpdateRcd(t *testing.T) {
	f := &fakeInit{rcTool: true, rcLinks: true, status: []int{0}}
	s := newFakeSysv(t, f)
	if _, err := s.Install(sysvSpec); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.calls, []string{"update-rc.d auth0-adldap defaults"}) {
		t.Errorf("calls %v", f.calls)
	}
	f.calls = nil
	if _, err := s.Install(sysvSpec); err != nil || len(f.calls) != 0 {
		t.Errorf("registered again: %v %v", f.calls, err)
	}
	// A stray link update-rc.d does not know of (kardianos/service's
	// leftovers) goes too.
	os.MkdirAll(filepath.Join(s.etc, "rcS.d"), 0o755)
	os.Symlink("../init.d/auth0-adldap", filepath.Join(s.etc, "rcS.d/S20auth0-adldap"))
	os.MkdirAll(filepath.Dir(s.pidFile), 0o755)
	os.WriteFile(s.pidFile, []byte("42\n"), 0o644)
	if err := s.Uninstall(ServiceName); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.calls, []string{"auth0-adldap stop", "update-rc.d -f auth0-adldap remove"}) {
		t.Errorf("uninstall calls %v", f.calls)
	}
	if l := linkNames(s); len(l) != 0 {
		t.Errorf("links left: %v", l)
	}
	for _, p := range []string{s.script, s.rotate, s.pidFile} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left: %v", p, err)
		}
	}
	f.calls = nil
	if err := s.Uninstall(ServiceName); err != nil || len(f.calls) != 0 {
		t.Errorf("second Uninstall: %v %v", f.calls, err)
	}
}

func TestSysvInstallRefusesBadSpec(t *testing.T) {
	s := newFakeSysv(t, &fakeInit{})
	bad := sysvSpec
	bad.WorkingDir = "/opt/x\nrm -rf /"
	if _, err := s.Install(bad); err == nil {
		t.Fatal("line break accepted")
	}
	if _, err := os.Stat(s.script); !os.IsNotExist(err) {
		t.Error("script written for a refused spec")
	}
}

func TestSysvStatus(t *testing.T) {
	for _, tc := range []struct {
		code    int
		pidfile string
		want    ServiceState
		wantErr bool
	}{
		{0, "1234\n", ServiceState{Installed: true, Active: "active", Sub: "running", PID: 1234}, false},
		{1, "1234\n", ServiceState{Installed: true, Active: "failed", Sub: "dead"}, false},
		{3, "", ServiceState{Installed: true, Active: "inactive", Sub: "dead"}, false},
		{4, "", ServiceState{Installed: true, Active: "unknown"}, true},
	} {
		f := &fakeInit{status: []int{tc.code}}
		s := newFakeSysv(t, f)
		os.WriteFile(s.script, []byte("#!/bin/sh\n"), 0o755)
		if tc.pidfile != "" {
			os.MkdirAll(filepath.Dir(s.pidFile), 0o755)
			os.WriteFile(s.pidFile, []byte(tc.pidfile), 0o644)
		}
		got, err := s.Status(ServiceName)
		if (err != nil) != tc.wantErr {
			t.Errorf("exit %d: err %v", tc.code, err)
		}
		if tc.pidfile != "" && got.Since == "" {
			t.Errorf("exit %d: no Since from the pidfile", tc.code)
		}
		got.Since = ""
		if got != tc.want {
			t.Errorf("exit %d: %+v, want %+v", tc.code, got, tc.want)
		}
	}
	s := newFakeSysv(t, &fakeInit{})
	if st, err := s.Status(ServiceName); err != nil || st.Installed || st.Active != "inactive" {
		t.Errorf("no script: %+v %v", st, err)
	}
	if err := s.Start(ServiceName); !errors.Is(err, ErrServiceNotInstalled) {
		t.Errorf("Start without a script: %v", err)
	}
}

func TestSysvWaitRunning(t *testing.T) {
	f := &fakeInit{status: []int{3, 0}}
	s := newFakeSysv(t, f)
	os.WriteFile(s.script, []byte("#!/bin/sh\n"), 0o755)
	st, err := s.WaitRunning(context.Background(), ServiceName, 300*time.Millisecond)
	if err != nil || !st.Running() {
		t.Fatalf("WaitRunning: %+v %v", st, err)
	}
	// Started, then died leaving its pidfile: unhealthy at once.
	f.status = []int{0, 1}
	start := time.Now()
	st, err = s.WaitRunning(context.Background(), ServiceName, 10*time.Second)
	if !errors.Is(err, ErrServiceUnhealthy) || st.Active != "failed" || time.Since(start) > 2*time.Second {
		t.Fatalf("crashed service: %+v %v after %v", st, err, time.Since(start))
	}
	if strings.Contains(err.Error(), "systemd") {
		t.Errorf("SysV failure blames systemd: %v", err)
	}
}

func TestCheckServiceSupport(t *testing.T) {
	for _, init := range []string{"openrc", "runit"} {
		p := &Platform{OS: "linux", Init: init, Paths: linuxPaths("", "alpine")}
		err := p.CheckServiceSupport()
		if !errors.Is(err, ErrNotSupported) {
			t.Fatalf("%s: %v", init, err)
		}
		for _, want := range []string{"this host's init system (" + init + ") is not supported", "install systemd", "your own supervisor", "/opt/auth0-adldap"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: message lacks %q: %v", init, want, err)
			}
		}
		if _, ok := p.Services().(unsupportedServices); !ok {
			t.Errorf("%s: manager %T", init, p.Services())
		}
		if _, err := p.Services().Install(sysvSpec); !errors.Is(err, ErrNotSupported) {
			t.Errorf("%s: Install: %v", init, err)
		}
		p.Root = t.TempDir() // hostServices itself, on files under a temp root
		if err := p.hostServices().Uninstall(ServiceName); err != nil {
			t.Errorf("%s: Uninstall with nothing registered: %v", init, err)
		}
		// An old kardianos/service script is named, not left silently.
		os.MkdirAll(filepath.Join(p.Root, "etc/init.d"), 0o755)
		os.WriteFile(filepath.Join(p.Root, "etc/init.d", ServiceName), []byte("#!/bin/sh\n"), 0o755)
		if err := p.hostServices().Uninstall(ServiceName); !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), "by hand") {
			t.Errorf("%s: Uninstall with an old script: %v", init, err)
		}
	}
	for _, p := range []*Platform{{OS: "linux", Init: "systemd"}, {OS: "linux", Init: "none", Root: t.TempDir()}} {
		if err := p.CheckServiceSupport(); err != nil {
			t.Errorf("%s: %v", p.Init, err)
		}
	}
}
