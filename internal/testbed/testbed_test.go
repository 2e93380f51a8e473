//go:build linux

package testbed

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/internal/testfeed"
)

func TestContainerBootsSysV(t *testing.T) {
	c := StartContainerWith(t, Options{SysV: true})
	if pid1 := strings.TrimSpace(c.ExecOK(t, "cat", "/proc/1/comm")); pid1 != "init" {
		t.Errorf("PID 1 in the container is %q, want sysvinit's init", pid1)
	}
	if rl := strings.TrimSpace(c.ExecOK(t, "runlevel")); rl != "N 2" {
		t.Errorf("runlevel = %q, want N 2", rl)
	}
	if _, _, code := c.Exec(t, "test", "-e", "/run/systemd/system"); code == 0 {
		t.Error("/run/systemd/system exists in the SysV bed")
	}
	for _, tool := range []string{"start-stop-daemon", "update-rc.d"} {
		if _, _, code := c.Exec(t, "sh", "-c", "command -v "+tool); code != 0 {
			t.Errorf("%s missing in the SysV bed", tool)
		}
	}
	if v := c.ExecOK(t, "node", "--version"); !strings.HasPrefix(v, "v") {
		t.Errorf("node --version = %q", v)
	}
}

func TestContainerBootsSystemd(t *testing.T) {
	c := StartContainer(t)

	out, _, _ := c.Exec(t, "systemctl", "is-system-running")
	if s := strings.TrimSpace(out); s != "running" && s != "degraded" {
		t.Fatalf("is-system-running = %q", s)
	}
	if pid1 := strings.TrimSpace(c.ExecOK(t, "cat", "/proc/1/comm")); pid1 != "systemd" {
		t.Errorf("PID 1 in the container is %q, want systemd", pid1)
	}
	if _, _, code := c.Exec(t, "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("exit code = %d, want 7", code)
	}
	if v := c.ExecOK(t, "npm", "--version"); strings.TrimSpace(v) == "" {
		t.Errorf("npm --version printed nothing")
	}

	// Files in and out, including a container-only tmpfs path.
	host := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(host, []byte("hello\x00bytes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.CopyIn(t, host, "/tmp/in/f", 0o640)
	if got := string(c.ReadFile(t, "/tmp/in/f")); got != "hello\x00bytes\n" {
		t.Errorf("ReadFile after CopyIn = %q", got)
	}
	if mode := strings.TrimSpace(c.ExecOK(t, "stat", "-c", "%a", "/tmp/in/f")); mode != "640" {
		t.Errorf("mode = %s, want 640", mode)
	}

	const unit = `[Unit]
Description=adldapctl testbed demo

[Service]
ExecStart=/usr/local/bin/node -e "require('http').createServer((q,r)=>r.end('ok')).listen(38999,'127.0.0.1')"
Restart=always

[Install]
WantedBy=multi-user.target
`
	c.WriteFile(t, "/etc/systemd/system/adldap-demo.service", []byte(unit), 0o644)
	if b, err := os.ReadFile(c.HostPath("/etc/systemd/system/adldap-demo.service")); err != nil || string(b) != unit {
		t.Errorf("HostPath view of the unit: %q, %v", b, err)
	}
	c.ExecOK(t, "systemctl", "daemon-reload")
	c.ExecOK(t, "systemctl", "enable", "--now", "adldap-demo.service")
	if body := c.WaitHTTP(t, "http://127.0.0.1:38999/", 30*time.Second); string(body) != "ok" {
		t.Errorf("GET / = %q, want ok", body)
	}
	if s := strings.TrimSpace(c.ExecOK(t, "systemctl", "is-enabled", "adldap-demo.service")); s != "enabled" {
		t.Errorf("is-enabled = %q", s)
	}
	c.ExecOK(t, "systemctl", "stop", "adldap-demo.service")
}

func TestParentPIDAndDescendants(t *testing.T) {
	pp, ok := parentPID(os.Getpid())
	if !ok || pp != os.Getppid() {
		t.Errorf("parentPID(self) = %d, %v; want %d", pp, ok, os.Getppid())
	}
	found := false
	for _, p := range descendants(os.Getppid()) {
		if p == os.Getpid() {
			found = true
		}
	}
	if !found {
		t.Errorf("descendants(parent) lacks this process")
	}
}

// TestSampleConnectorUnderSystemd shows the bed end to end: the container
// fetches the sample connector from a testfeed server on the host's
// loopback, installs it like the connector's Linux instructions say and
// runs it as a systemd service.
func TestSampleConnectorUnderSystemd(t *testing.T) {
	c := StartContainer(t)
	feed, err := testfeed.Start("127.0.0.1:0", []testfeed.ReleaseSpec{{Version: "6.5.0"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(feed.Close)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	c.ExecOK(t, "curl", "-fsSL", "-o", "/tmp/connector.tar.gz", feed.TarballURL("6.5.0"))
	c.ExecOK(t, "mkdir", "-p", "/opt/auth0-adldap")
	c.ExecOK(t, "tar", "-xzf", "/tmp/connector.tar.gz", "-C", "/opt/auth0-adldap", "--strip-components=1")
	c.WriteFile(t, "/opt/auth0-adldap/config.json",
		[]byte(fmt.Sprintf(`{"PROVISIONING_TICKET":"https://example.test/p/ad/SECRETTICKET","PORT":%d}`, port)), 0o600)
	c.ExecOK(t, "sh", "-c", "cd /opt/auth0-adldap && npm ci --omit=dev --offline --no-audit --no-fund")
	c.WriteFile(t, "/etc/systemd/system/auth0-adldap.service", []byte(`[Unit]
Description=Auth0 AD LDAP Connector (sample)

[Service]
WorkingDirectory=/opt/auth0-adldap
ExecStart=/usr/local/bin/node server.js
Restart=always
StandardOutput=append:/var/log/auth0-adldap.log
StandardError=append:/var/log/auth0-adldap.log

[Install]
WantedBy=multi-user.target
`), 0o644)
	c.ExecOK(t, "systemctl", "enable", "--now", "auth0-adldap.service")

	body := c.WaitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 30*time.Second)
	var got struct {
		Version string
		Ticket  bool
	}
	if err := json.Unmarshal(body, &got); err != nil || got.Version != "6.5.0" || !got.Ticket {
		t.Errorf("GET / = %s (%v)", body, err)
	}
	logText := string(c.ReadFile(t, "/var/log/auth0-adldap.log"))
	if !strings.Contains(logText, fmt.Sprintf("listening on 127.0.0.1:%d", port)) || strings.Contains(logText, "SECRET") {
		t.Errorf("log:\n%s", logText)
	}
	if feed.Requests(feed.TarballURL("6.5.0")) != 1 {
		t.Errorf("tarball fetched %d times", feed.Requests(feed.TarballURL("6.5.0")))
	}
}
