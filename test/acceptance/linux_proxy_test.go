//go:build acceptance && linux

package acceptance

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/internal/testbed"
	"github.com/adldapctl/adldapctl/internal/testfeed"
)

// proxySecret is the distinctive start of the squid password: no output,
// log, journal or unit file may contain it (percent-encoded or not).
const proxySecret = "Pr0xySecret"

type outboundProbe struct {
	OK     bool   `json:"ok"`
	Via    string `json:"via"`
	Status int    `json:"status"`
	Error  string `json:"error"`
}

// probeOutbound asks the sample connector to reach the tenant, retrying
// while the service restarts.
func probeOutbound(t *testing.T, port int) outboundProbe {
	t.Helper()
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/outbound-probe", port))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var p outboundProbe
			if resp.StatusCode == 200 && json.Unmarshal(b, &p) == nil {
				return p
			}
			err = fmt.Errorf("%s: %s", resp.Status, b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbound probe: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestLinuxProxyOnSystemd: with a real squid requiring Basic auth on
// loopback, `proxy set` makes the installed (sample) connector reach a
// loopback HTTPS tenant through the proxy, seen in squid's access log;
// `proxy clear` makes it go direct again. The password shows up nowhere
// but config.json and the 0600 environment file; bad URLs change nothing.
func TestLinuxProxyOnSystemd(t *testing.T) { proxyScenario(t, false) }

// TestLinuxProxyOnSysv is the same on a Debian booted with sysvinit: the
// init script sources the 0600 environment file.
func TestLinuxProxyOnSysv(t *testing.T) { proxyScenario(t, true) }

func proxyScenario(t *testing.T, sysv bool) {
	testbed.RequireRoot(t)
	squid := testbed.StartSquidProxy(t, "fleet", proxySecret+" p@ss/w%rd")
	tenant := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"clock":%d}`, time.Now().UnixMilli())
	}))
	defer tenant.Close()
	tenantHost := strings.TrimPrefix(tenant.URL, "https://")
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tenant.Certificate().Raw})

	bin := buildLinux(t)
	feed, err := testfeed.Start("127.0.0.1:0", []testfeed.ReleaseSpec{{Version: "6.4.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer feed.Close()
	c := testbed.StartContainerWith(t, testbed.Options{SysV: sysv})
	c.CopyIn(t, bin, "/usr/local/bin/adldapctl", 0o755)
	restart := []string{"systemctl", "restart", "auth0-adldap.service"}
	if sysv {
		restart = []string{"/etc/init.d/auth0-adldap", "restart"}
	}

	port := freeLoopbackPort(t) // the container shares the host's network
	inst := "/opt/auth0-adldap"
	c.ExecOK(t, "mkdir", "-p", inst, "/etc/adldapctl-test")
	c.WriteFile(t, "/etc/adldapctl-test/tenant.pem", caPEM, 0o644)
	c.WriteFile(t, inst+"/config.json", []byte(fmt.Sprintf("{\n    \"PORT\": %d,\n    \"LDAP_URL\": \"ldap://127.0.0.1:3389\",\n"+
		"    \"TEST_OUTBOUND_URL\": \"%s/test\",\n    \"TEST_OUTBOUND_CA\": \"/etc/adldapctl-test/tenant.pem\"\n}\n", port, tenant.URL)), 0o600)
	var outputs []string
	adl := func(args ...string) (string, string, int) {
		stdout, stderr, code := c.Exec(t, append([]string{"adldapctl", "--feed", feed.URL}, args...)...)
		outputs = append(outputs, stdout, stderr)
		return stdout, stderr, code
	}
	if stdout, stderr, code := adl("install", "--ticket", ticket); code != 0 {
		t.Fatalf("install exit %d\n%s\n%s\nconnector log:\n%s", code, stdout, stderr, c.ReadFile(t, "/var/log/auth0-adldap.log"))
	}
	waitVersion(t, port, "6.4.1")
	if p := probeOutbound(t, port); !p.OK || p.Via != "direct" {
		t.Fatalf("before proxy set: %+v, want ok direct", p)
	}
	tunnelLine := "CONNECT " + tenantHost
	if log, _ := os.ReadFile(squid.AccessLog); strings.Contains(string(log), tunnelLine) {
		t.Fatalf("tenant reached through squid before proxy set:\n%s", log)
	}

	// Bad URLs: exit 2, config.json byte for byte the same, nothing else written.
	cfgBefore := c.ReadFile(t, inst+"/config.json")
	for _, bad := range []string{"http://wpad.example/proxy.pac", "http://:3128", "http://fleet:" + proxySecret + "%zz@" + squid.Addr, "socks5://" + squid.Addr} {
		_, stderr, code := adl("proxy", "set", bad)
		if code != 2 {
			t.Errorf("proxy set %s: exit %d, want 2\n%s", bad, code, stderr)
		}
	}
	if got := c.ReadFile(t, inst+"/config.json"); !bytes.Equal(got, cfgBefore) {
		t.Errorf("config.json changed by refused URLs:\n%s", got)
	}
	if _, err := os.Stat(c.HostPath("/etc/adldapctl/proxy.env")); !os.IsNotExist(err) {
		t.Error("env file written by a refused URL")
	}

	// proxy set: through squid.
	stdout, stderr, code := adl("proxy", "set", squid.URL)
	t.Logf("proxy set:\n%s%s", stdout, stderr)
	if code != 0 || !strings.Contains(stdout, "restarted") {
		t.Fatalf("proxy set exit %d", code)
	}
	envFile := c.HostPath("/etc/adldapctl/proxy.env")
	if fi, err := os.Stat(envFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("env file: %v %v", err, fi)
	}
	if sysv {
		if script := c.ReadFile(t, "/etc/init.d/auth0-adldap"); !bytes.Contains(script, []byte("ENVFILE=/etc/adldapctl/proxy.env")) {
			t.Errorf("init script does not source the env file")
		}
	} else if show, _, _ := c.Exec(t, "systemctl", "show", "-p", "EnvironmentFiles", "auth0-adldap.service"); !strings.Contains(show, "/etc/adldapctl/proxy.env") {
		t.Errorf("systemd does not read the env file: %s", show)
	}
	waitVersion(t, port, "6.4.1")
	p := probeOutbound(t, port)
	if !p.OK || p.Via != "proxy" || p.Status != 200 {
		t.Fatalf("after proxy set: %+v, want ok via proxy", p)
	}
	var log []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if log, _ = os.ReadFile(squid.AccessLog); bytes.Contains(log, []byte(tunnelLine)) {
			break
		}
	}
	if !bytes.Contains(log, []byte(tunnelLine)) || !bytes.Contains(log, []byte("TCP_TUNNEL/200")) {
		t.Fatalf("squid access log lacks the tunnel to the tenant %s:\n%s", tenantHost, log)
	}
	stdout, _, code = adl("--json", "proxy", "show")
	var show struct{ Effective, Source string }
	if code != 0 || json.Unmarshal([]byte(stdout), &show) != nil || show.Source != "service environment" || !strings.Contains(show.Effective, "xxxxx@"+squid.Addr) {
		t.Errorf("proxy show: exit %d %s", code, stdout)
	}

	// The service environment wins over config.json: with a dead proxy in
	// config.json the connector still goes through squid.
	good := c.ReadFile(t, inst+"/config.json")
	dead := bytes.Replace(good, []byte(`"HTTP_PROXY": "`+squid.URL+`"`), []byte(`"HTTP_PROXY": "http://127.0.0.1:9"`), 1)
	if bytes.Equal(dead, good) {
		t.Fatalf("config.json does not hold the proxy as set:\n%s", good)
	}
	c.WriteFile(t, inst+"/config.json", dead, 0o600)
	c.ExecOK(t, restart...)
	waitVersion(t, port, "6.4.1")
	if p := probeOutbound(t, port); !p.OK || p.Via != "proxy" {
		t.Errorf("service environment did not win over config.json: %+v", p)
	}
	c.WriteFile(t, inst+"/config.json", good, 0o600)

	// The password is nowhere but config.json and the 0600 env file.
	places := map[string]string{
		"connector log": string(c.ReadFile(t, "/var/log/auth0-adldap.log")),
	}
	if sysv {
		places["init script"] = string(c.ReadFile(t, "/etc/init.d/auth0-adldap"))
	} else {
		places["journal"] = c.Journal(t, "")
		places["unit"] = string(c.ReadFile(t, "/etc/systemd/system/auth0-adldap.service"))
		places["drop-in"] = string(c.ReadFile(t, "/etc/systemd/system/auth0-adldap.service.d/proxy.conf"))
		places["systemctl cat"], _, _ = c.Exec(t, "systemctl", "cat", "auth0-adldap.service")
		places["systemctl show"], _, _ = c.Exec(t, "systemctl", "show", "auth0-adldap.service")
	}
	for _, f := range []string{"/var/lib/adldapctl", "/var/cache/adldapctl", "/var/log"} {
		_ = filepath.Walk(c.HostPath(f), func(path string, fi os.FileInfo, err error) error {
			if err == nil && fi.Mode().IsRegular() {
				b, _ := os.ReadFile(path)
				places[path] = string(b)
			}
			return nil
		})
	}
	for i, o := range outputs {
		places[fmt.Sprintf("adldapctl output %d", i)] = o
	}
	for where, text := range places {
		if strings.Contains(text, proxySecret) {
			t.Errorf("proxy password in %s", where)
		}
	}

	// proxy clear: direct again, squid sees nothing new.
	time.Sleep(time.Second) // squid logs a tunnel when it closes
	log, _ = os.ReadFile(squid.AccessLog)
	logLen := len(log)
	if stdout, stderr, code := adl("proxy", "clear"); code != 0 {
		t.Fatalf("proxy clear exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(envFile); !os.IsNotExist(err) {
		t.Error("env file left after clear")
	}
	if cfg := c.ReadFile(t, inst+"/config.json"); bytes.Contains(cfg, []byte("HTTP_PROXY")) || !bytes.Contains(cfg, []byte("TEST_OUTBOUND_URL")) {
		t.Errorf("config.json after clear:\n%s", cfg)
	}
	waitVersion(t, port, "6.4.1")
	if p := probeOutbound(t, port); !p.OK || p.Via != "direct" {
		t.Fatalf("after proxy clear: %+v, want ok direct", p)
	}
	time.Sleep(time.Second)
	if log, _ := os.ReadFile(squid.AccessLog); bytes.Contains(log[min(logLen, len(log)):], []byte(tunnelLine)) {
		t.Errorf("tenant reached through squid after clear:\n%s", log[logLen:])
	}
}

// freeLoopbackPort returns a TCP port on 127.0.0.1 that was free a moment
// ago.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestLinuxUnitQuotingOnSystemd runs the golden unit with $, %, spaces,
// quotes and backslashes in every directive under real systemd: its
// ExecStart= is a script at the odd path that prints its working
// directory, arguments and environment to the StandardOutput= log, which
// must show each value exactly as meant.
func TestLinuxUnitQuotingOnSystemd(t *testing.T) {
	testbed.RequireRoot(t)
	unit, err := os.ReadFile(filepath.Join("..", "..", "packaging", "testdata", "quoting.service"))
	if err != nil {
		t.Fatal(err)
	}
	c := testbed.StartContainer(t)
	const exe, dir, logFile = `/opt/n$de 50%/bin/node`, `/opt/auth0 $dir/100%/a"b\c`, `/var/log/a $b%c.log`
	c.ExecOK(t, "mkdir", "-p", dir, filepath.Dir(exe))
	c.WriteFile(t, exe, []byte(`#!/bin/sh
printf 'cwd=%s\n' "$(pwd)"
for a in "$@"; do printf 'arg=%s\n' "$a"; done
for v in DOLLAR PERCENT SPACES HTTP_PROXY PLAIN; do eval "printf '%s=%s\n' $v \"\$$v\""; done
echo end
sleep 600
`), 0o755)
	c.WriteFile(t, "/etc/systemd/system/quoting-test.service", unit, 0o644)
	c.ExecOK(t, "systemctl", "daemon-reload")
	c.ExecOK(t, "systemctl", "start", "quoting-test.service")
	defer c.Exec(t, "systemctl", "stop", "quoting-test.service")
	var got string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if b, err := os.ReadFile(c.HostPath(logFile)); err == nil && bytes.Contains(b, []byte("end\n")) {
			got = string(b)
			break
		}
	}
	want := `cwd=/opt/auth0 $dir/100%/a"b\c
arg=server.js
arg=--x=a"b\c
arg=$1
arg=10%
DOLLAR=pa$$word$HOME
PERCENT=50%off
SPACES=a b "c" d\e
HTTP_PROXY=http://u:p%40ss$@proxy:3128
PLAIN=production
end
`
	if got != want {
		st, _, _ := c.Exec(t, "systemctl", "status", "quoting-test.service")
		t.Errorf("the service saw\n%s\nwant\n%s\n%s", got, want, st)
	}
}
