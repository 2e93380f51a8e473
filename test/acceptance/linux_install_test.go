//go:build acceptance && linux

package acceptance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/internal/testbed"
	"github.com/adldapctl/adldapctl/internal/testfeed"
)

const ticket = "https://tenant.example.auth0.com/p/ad/ACCEPTANCETICKET77"

// buildLinux builds the static linux binary once per test run.
func buildLinux(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "adldapctl")
	testbed.BuildTool(t, bin, testbed.BuildOptions{GOOS: "linux", GOARCH: runtime.GOARCH, TestHooks: true})
	return bin
}

func getVersion(t *testing.T, port int) (string, error) {
	t.Helper()
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v struct {
		Version string `json:"version"`
		Ticket  bool   `json:"ticket"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return "", fmt.Errorf("%v: %s", err, b)
	}
	if !v.Ticket {
		return v.Version, fmt.Errorf("connector sees no ticket")
	}
	return v.Version, nil
}

func waitVersion(t *testing.T, port int, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got string
	var err error
	for time.Now().Before(deadline) {
		got, err = getVersion(t, port)
		if err == nil && got == want {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("connector on :%d answers %q (%v), want %q", port, got, err, want)
}

func TestLinuxInstallOnSystemd(t *testing.T) {
	testbed.RequireRoot(t)
	bin := buildLinux(t)
	feed, err := testfeed.Start("127.0.0.1:0", []testfeed.ReleaseSpec{{Version: "6.4.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer feed.Close()
	c := testbed.StartContainer(t)
	c.CopyIn(t, bin, "/usr/local/bin/adldapctl", 0o755)

	const port = 38411
	inst := "/opt/auth0-adldap"
	// The admin staged config.json (PORT for the sample connector) and the
	// cert.key before installing.
	c.ExecOK(t, "mkdir", "-p", inst+"/certs")
	c.WriteFile(t, inst+"/config.json", []byte(fmt.Sprintf("{\n  \"PORT\": %d,\n  \"LDAP_URL\": \"ldap://127.0.0.1:3389\"\n}\n", port)), 0o644)
	c.WriteFile(t, inst+"/certs/cert.key", []byte("-----BEGIN PRIVATE KEY-----\nfixture-not-a-key\n-----END PRIVATE KEY-----\n"), 0o600)

	// An existing config.json owned by someone else ends up root's, 0600.
	c.ExecOK(t, "chown", "65534:65534", inst+"/config.json")
	adl := func(args ...string) (string, string, int) {
		return c.Exec(t, append([]string{"adldapctl", "--feed", feed.URL}, args...)...)
	}
	stdout, stderr, code := adl("install", "--ticket", ticket)
	t.Logf("install:\n%s\n%s", stdout, stderr)
	if code != 0 {
		t.Fatalf("install exit %d", code)
	}
	if strings.Contains(stdout+stderr, "ACCEPTANCETICKET77") {
		t.Fatal("ticket echoed")
	}
	if out, _, _ := c.Exec(t, "systemctl", "is-active", "auth0-adldap.service"); strings.TrimSpace(out) != "active" {
		t.Fatalf("service not active: %q", out)
	}
	waitVersion(t, port, "6.4.1")
	logb := c.ReadFile(t, "/var/log/auth0-adldap.log")
	if !bytes.Contains(logb, []byte("listening on 127.0.0.1")) {
		t.Errorf("connector output not in /var/log/auth0-adldap.log:\n%s", logb)
	}
	fi, err := os.Stat(filepath.Join(c.Dir, inst, "config.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config.json mode: %v %v", err, fi.Mode())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Uid != 0 || st.Gid != 0 {
		t.Errorf("config.json owner: %+v, want root", fi.Sys())
	}
	cfg := c.ReadFile(t, inst+"/config.json")
	if !bytes.Contains(cfg, []byte(ticket)) || !bytes.Contains(cfg, []byte(`"LDAP_URL"`)) {
		t.Fatalf("config.json lacks the ticket or lost a key:\n%s", cfg)
	}
	unit := c.ReadFile(t, "/etc/systemd/system/auth0-adldap.service")
	for _, want := range []string{"WorkingDirectory=/opt/auth0-adldap", "Restart=always", "server.js", "append:/var/log/auth0-adldap.log"} {
		if !bytes.Contains(unit, []byte(want)) {
			t.Errorf("unit lacks %q", want)
		}
	}
	if enabled, _, _ := c.Exec(t, "systemctl", "is-enabled", "auth0-adldap.service"); strings.TrimSpace(enabled) != "enabled" {
		t.Errorf("unit not enabled: %q", enabled)
	}
	stdout, _, code = adl("--json", "status")
	var st struct {
		Version string `json:"version"`
		Service struct {
			Active string `json:"active"`
		} `json:"service"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &st) != nil || st.Version != "6.4.1" || st.Service.Active != "active" {
		t.Fatalf("status: exit %d %s", code, stdout)
	}

	// Customise the profile mapper; a second install changes no customer file.
	c.WriteFile(t, inst+"/lib/profileMapper.js", []byte("module.exports = function (u) { return { customised: 1 }; };\n"), 0o644)
	before := snapshot(t, c, inst)
	stdout, stderr, code = adl("install")
	if code != 0 {
		t.Fatalf("second install exit %d\n%s\n%s", code, stdout, stderr)
	}
	after := snapshot(t, c, inst)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("customer file %s changed by the second install", k)
		}
	}
	waitVersion(t, port, "6.4.1")

	// uninstall keeps customer files; --purge removes them.
	if _, stderr, code = adl("uninstall"); code != 0 {
		t.Fatalf("uninstall exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(c.Dir, "/etc/systemd/system/auth0-adldap.service")); !os.IsNotExist(err) {
		t.Error("unit file left after uninstall")
	}
	if out, _, _ := c.Exec(t, "systemctl", "is-active", "auth0-adldap.service"); strings.TrimSpace(out) == "active" {
		t.Error("service still active after uninstall")
	}
	if _, err := os.Stat(filepath.Join(c.Dir, inst, "server.js")); !os.IsNotExist(err) {
		t.Error("program files left after uninstall")
	}
	kept := snapshot(t, c, inst)
	for k, v := range before {
		if kept[k] != v {
			t.Errorf("uninstall changed or removed customer file %s", k)
		}
	}
	if _, stderr, code = adl("--yes", "uninstall", "--purge"); code != 0 {
		t.Fatalf("uninstall --purge exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(c.Dir, inst)); !os.IsNotExist(err) {
		t.Errorf("install dir left after purge: %v", err)
	}
}

// snapshot returns the customer files' contents.
func snapshot(t *testing.T, c *testbed.Container, inst string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, rel := range []string{"config.json", "certs/cert.key", "lib/profileMapper.js"} {
		b, err := os.ReadFile(filepath.Join(c.Dir, inst, rel))
		if err != nil {
			m[rel] = "<missing>"
			continue
		}
		m[rel] = string(b)
	}
	return m
}
