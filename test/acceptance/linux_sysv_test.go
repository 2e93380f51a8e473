//go:build acceptance && linux

package acceptance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/internal/testbed"
	"github.com/adldapctl/adldapctl/internal/testfeed"
)

// TestLinuxSysvInstallUpdateUninstall drives the real adldapctl on a Debian
// booted with sysvinit (no systemd as PID 1): install registers an LSB
// script that runs node server.js in /opt/auth0-adldap with its output in
// /var/log/auth0-adldap.log; service status/restart, a crash seen as
// "failed", update to the next release, and uninstall --purge leaving no
// script, no rc?.d link and no process.
func TestLinuxSysvInstallUpdateUninstall(t *testing.T) {
	testbed.RequireRoot(t)
	bin := buildLinux(t)
	feed, err := testfeed.Start("127.0.0.1:0", []testfeed.ReleaseSpec{{Version: "6.4.1"}, {Version: "6.5.0"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(feed.Close)
	start := time.Now()
	c := testbed.StartContainerWith(t, testbed.Options{SysV: true})
	t.Logf("sysv bed up in %v", time.Since(start).Round(time.Millisecond))
	c.CopyIn(t, bin, "/usr/local/bin/adldapctl", 0o755)

	// The bed really is SysV: init is PID 1 and systemd is not running.
	if comm := strings.TrimSpace(string(c.ReadFile(t, "/proc/1/comm"))); comm != "init" {
		t.Fatalf("PID 1 is %q, want sysvinit's init", comm)
	}
	if _, _, code := c.Exec(t, "test", "-e", "/run/systemd/system"); code == 0 {
		t.Fatal("/run/systemd/system exists: systemd is running")
	}

	const port = 38431
	inst := "/opt/auth0-adldap"
	c.ExecOK(t, "mkdir", "-p", inst+"/certs")
	c.WriteFile(t, inst+"/config.json", []byte(fmt.Sprintf("{\n  \"PORT\": %d\n}\n", port)), 0o600)
	c.WriteFile(t, inst+"/certs/cert.key", []byte("-----BEGIN PRIVATE KEY-----\nfixture\n-----END PRIVATE KEY-----\n"), 0o600)
	// HTTP_PROXY in the admin's shell must not reach the service (the
	// connector would prefer it over config.json).
	adl := func(args ...string) (string, string, int) {
		t.Helper()
		return c.Exec(t, append([]string{"env", "HTTP_PROXY=http://admin-shell.invalid:3128", "adldapctl", "--feed", feed.URL}, args...)...)
	}

	// install
	start = time.Now()
	stdout, stderr, code := adl("install", "--version", "6.4.1", "--ticket", ticket)
	t.Logf("install (%v):\n%s%s", time.Since(start).Round(time.Millisecond), stdout, stderr)
	if code != 0 {
		t.Fatalf("install: exit %d", code)
	}
	waitVersion(t, port, "6.4.1")
	script := c.ReadFile(t, "/etc/init.d/auth0-adldap")
	for _, want := range []string{"# Provides:          auth0-adldap", "WORKDIR=/opt/auth0-adldap\n", "LOGFILE=/var/log/auth0-adldap.log\n", "-- server.js || return\n"} {
		if !bytes.Contains(script, []byte(want)) {
			t.Errorf("init script lacks %q", want)
		}
	}
	if l := rcLinks(t, c); len(l) == 0 || !containsPrefix(l, "rc2.d/S") || !containsPrefix(l, "rc0.d/K") {
		t.Errorf("rc?.d links after install: %v", l)
	}
	if out, _, code := c.Exec(t, "/etc/init.d/auth0-adldap", "status"); code != 0 || !strings.Contains(out, "is running") {
		t.Errorf("/etc/init.d/auth0-adldap status: exit %d %q", code, out)
	}
	pid1 := servicePID(t, c)
	if cwd := strings.TrimSpace(c.ExecOK(t, "readlink", fmt.Sprintf("/proc/%d/cwd", pid1))); cwd != inst {
		t.Errorf("connector's working directory %q, want %s", cwd, inst)
	}
	env := string(c.ReadFile(t, fmt.Sprintf("/proc/%d/environ", pid1)))
	if !strings.Contains(env, "NODE_ENV=production\x00") || strings.Contains(env, "admin-shell.invalid") {
		t.Errorf("connector's environment: %q", strings.ReplaceAll(env, "\x00", " "))
	}
	if logb := c.ReadFile(t, "/var/log/auth0-adldap.log"); !bytes.Contains(logb, []byte("listening on 127.0.0.1")) {
		t.Errorf("connector output not in /var/log/auth0-adldap.log:\n%s", logb)
	}

	// service status (human and --json) and the install's status.
	stdout, stderr, code = adl("service", "status")
	if code != 0 || !strings.Contains(stdout, "active/running") || !strings.Contains(stdout, "pid "+strconv.Itoa(pid1)) {
		t.Errorf("service status: exit %d\n%s%s", code, stdout, stderr)
	}
	var st struct {
		Version  string            `json:"version"`
		Platform map[string]string `json:"platform"`
		Paths    map[string]string `json:"paths"`
		Service  struct {
			Installed bool   `json:"installed"`
			Active    string `json:"active"`
			PID       int    `json:"pid"`
		} `json:"service"`
	}
	stdout, _, code = adl("--json", "status")
	if code != 0 || json.Unmarshal([]byte(stdout), &st) != nil || st.Version != "6.4.1" || st.Platform["init"] != "sysv" ||
		!st.Service.Installed || st.Service.Active != "active" || st.Service.PID != pid1 || st.Paths["unit"] != "/etc/init.d/auth0-adldap" {
		t.Errorf("status: exit %d %s", code, stdout)
	}

	// A crash leaves the pidfile: status says failed; service start
	// brings it back; restart gives a new process.
	c.ExecOK(t, "/bin/sh", "-c", "kill -9 "+strconv.Itoa(pid1)) // kill is a shell builtin here (no procps)
	waitServiceActive(t, adl, "failed")
	if stdout, stderr, code = adl("service", "start"); code != 0 || !strings.Contains(stdout, "active/running") {
		t.Fatalf("service start after a crash: exit %d\n%s%s", code, stdout, stderr)
	}
	waitVersion(t, port, "6.4.1")
	pid2 := servicePID(t, c)
	if stdout, stderr, code = adl("service", "restart"); code != 0 {
		t.Fatalf("service restart: exit %d\n%s%s", code, stdout, stderr)
	}
	waitVersion(t, port, "6.4.1")
	if pid3 := servicePID(t, c); pid3 == pid2 {
		t.Errorf("service restart kept pid %d", pid3)
	}

	// update to the next release: stop, switch, start, health gate.
	start = time.Now()
	stdout, stderr, code = adl("update", "--health-grace", "3s")
	t.Logf("update (%v):\n%s%s", time.Since(start).Round(time.Millisecond), stdout, stderr)
	if code != 0 {
		t.Fatalf("update: exit %d", code)
	}
	waitVersion(t, port, "6.5.0")
	pid4 := servicePID(t, c)
	if cwd := strings.TrimSpace(c.ExecOK(t, "readlink", fmt.Sprintf("/proc/%d/cwd", pid4))); cwd != inst {
		t.Errorf("working directory after update %q", cwd)
	}
	if n := nodeProcesses(t, c); len(n) != 1 {
		t.Errorf("server.js processes after update: %v, want one", n)
	}

	// uninstall --purge: no script, no rc?.d link, no process, no files.
	stdout, stderr, code = adl("--yes", "uninstall", "--purge")
	t.Logf("uninstall --purge:\n%s%s", stdout, stderr)
	if code != 0 {
		t.Fatalf("uninstall --purge: exit %d", code)
	}
	if _, _, code := c.Exec(t, "test", "-e", "/etc/init.d/auth0-adldap"); code == 0 {
		t.Error("/etc/init.d/auth0-adldap left after uninstall --purge")
	}
	if l := rcLinks(t, c); len(l) != 0 {
		t.Errorf("rc?.d links left after uninstall --purge: %v", l)
	}
	if _, _, code := c.Exec(t, "test", "-e", "/run/auth0-adldap.pid"); code == 0 {
		t.Error("pidfile left after uninstall --purge")
	}
	if n := nodeProcesses(t, c); len(n) != 0 {
		t.Errorf("server.js still running after uninstall --purge: %v", n)
	}
	if _, err := getVersion(t, port); err == nil {
		t.Errorf("connector still answers on :%d", port)
	}
	for _, p := range []string{inst, "/var/lib/adldapctl", "/etc/logrotate.d/auth0-adldap"} {
		if _, err := os.Stat(c.HostPath(p)); !os.IsNotExist(err) {
			t.Errorf("%s left after uninstall --purge: %v", p, err)
		}
	}
}

// rcLinks lists the container's /etc/rc?.d entries for auth0-adldap.
func rcLinks(t *testing.T, c *testbed.Container) []string {
	t.Helper()
	m, err := filepath.Glob(c.HostPath("/etc/rc?.d/*auth0-adldap*"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range m {
		rel, _ := filepath.Rel(c.HostPath("/etc"), p)
		out = append(out, rel)
	}
	return out
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// servicePID reads the pidfile (on the container's /run tmpfs).
func servicePID(t *testing.T, c *testbed.Container) int {
	t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(string(c.ReadFile(t, "/run/auth0-adldap.pid"))))
	if err != nil || pid <= 1 {
		t.Fatalf("pidfile: %v", err)
	}
	return pid
}

// nodeProcesses lists the container's processes running server.js.
func nodeProcesses(t *testing.T, c *testbed.Container) []string {
	t.Helper()
	out := c.ExecOK(t, "/bin/sh", "-c", `for p in /proc/[0-9]*; do printf '%s ' "${p#/proc/}"; tr '\0' ' ' <"$p/cmdline" 2>/dev/null; echo; done`)
	var procs []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "server.js") {
			procs = append(procs, strings.TrimSpace(line))
		}
	}
	return procs
}

// waitServiceActive polls `adldapctl --json service status` until the
// service's active state is want.
func waitServiceActive(t *testing.T, adl func(...string) (string, string, int), want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		stdout, _, _ := adl("--json", "service", "status")
		var st struct {
			Active string `json:"active"`
		}
		if json.Unmarshal([]byte(stdout), &st) == nil && st.Active == want {
			return
		}
		last = stdout
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("service status never %q: %s", want, last)
}
