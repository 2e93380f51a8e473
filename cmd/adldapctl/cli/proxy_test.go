package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adldapctl/adldapctl/installer"
	"github.com/adldapctl/adldapctl/internal/testfeed"
)

// proxyRoot is a --root with a config.json in the connector's layout.
func proxyRoot(t *testing.T, config string, mode os.FileMode) (root, cfgPath string) {
	t.Helper()
	root = t.TempDir()
	cfgPath = filepath.Join(root, "opt/auth0-adldap/config.json")
	if err := os.MkdirAll(filepath.Dir(cfgPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, []byte(config), mode); err != nil {
		t.Fatal(err)
	}
	return root, cfgPath
}

const proxyPass = "S3cr%40tPw"

func TestProxySetRefusesBadURLs(t *testing.T) {
	pac := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "function FindProxyForURL(url, host) { return \"PROXY p:3128\"; }")
	}))
	defer pac.Close()
	const config = "{\n    \"LDAP_URL\": \"ldap://dc\",\n    \"HTTP_PROXY\": \"http://old:3128\"\n}\n"
	for _, tc := range []struct {
		name, url string
		args      []string
		want      string
	}{
		{"pac", "http://wpad.example/proxy.pac", nil, "PAC"},
		{"wpad dat", "http://wpad.example/wpad.dat", nil, "PAC"},
		{"pac served", pac.URL + "/", []string{"--probe"}, "FindProxyForURL"},
		{"no host", "http://:3128", nil, "no host"},
		{"no port", "http://proxy.example", nil, "no port"},
		{"no scheme", "proxy.example:3128", nil, "scheme"},
		{"bad scheme", "socks5://proxy.example:1080", nil, "scheme"},
		{"ftp", "ftp://proxy.example:21", nil, "scheme"},
		{"unparsable", "http://u:" + proxyPass + "%zz@proxy.example:3128", nil, "%XX"},
		{"unencoded at", "http://u:p@ss" + "W0rd@proxy.example:3128", nil, "percent-encode"},
		{"unencoded slash", "http://u:pa/ssW0rd@proxy.example:3128", nil, "percent-encode"},
		{"path", "http://proxy.example:3128/x", nil, "no path"},
		{"bad port", "http://proxy.example:99999", nil, "port"},
		{"space", "http://u:a b@proxy.example:3128", nil, "space"},
		{"empty", "", nil, "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, cfgPath := proxyRoot(t, config, 0o600)
			args := append([]string{"--root", root, "proxy", "set", tc.url}, tc.args...)
			r := run(t, args...)
			if r.code != ExitUsage || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, want 2 naming %q\n%s", r.code, tc.want, r.stderr)
			}
			if got, _ := os.ReadFile(cfgPath); string(got) != config {
				t.Errorf("config.json changed:\n%s", got)
			}
			if _, err := os.Stat(filepath.Join(root, "etc/adldapctl/proxy.env")); err == nil {
				t.Error("env file written for a refused URL")
			}
			for _, secret := range []string{"S3cr", "ssW0rd"} {
				if strings.Contains(r.stdout+r.stderr, secret) {
					t.Errorf("password shown:\n%s%s", r.stdout, r.stderr)
				}
			}
			r = run(t, append([]string{"--json"}, args[0:]...)...)
			var je jsonError
			if json.Unmarshal([]byte(r.stdout), &je) != nil || je.Error.Code != 2 || je.Error.Kind != "usage" {
				t.Errorf("--json: %s", r.stdout)
			}
		})
	}
}

func TestProxySetWritesConfigDropInAndPrivateEnvFile(t *testing.T) {
	const config = "{\n    \"LDAP_URL\": \"ldap://dc\",\n    \"PORT\": 4000,\n    \"nested\": {\"a\": 1}\n}\n"
	root, cfgPath := proxyRoot(t, "\uFEFF"+config, 0o640)
	pu := "http://fleet:" + proxyPass + "@proxy.example:3128"
	r := run(t, "--root", root, "proxy", "set", pu)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	got, _ := os.ReadFile(cfgPath)
	want := "{\n    \"LDAP_URL\": \"ldap://dc\",\n    \"PORT\": 4000,\n    \"nested\": {\"a\": 1},\n    \"HTTP_PROXY\": \"" + pu + "\"\n}\n"
	if string(got) != want {
		t.Errorf("config.json:\n%s\nwant\n%s", got, want)
	}
	if fi, _ := os.Stat(cfgPath); fi.Mode().Perm() != 0o640 {
		t.Errorf("config.json mode %v, want 0640 kept", fi.Mode())
	}
	if !strings.Contains(r.stdout, "byte order mark") || !strings.Contains(r.stdout, "other users can read") {
		t.Errorf("BOM removal and readable config not reported:\n%s", r.stdout)
	}
	envPath := filepath.Join(root, "etc/adldapctl/proxy.env")
	env, err := os.ReadFile(envPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		if !strings.Contains(string(env), k+"=\""+pu+"\"\n") {
			t.Errorf("env file lacks %s:\n%s", k, env)
		}
	}
	if fi, _ := os.Stat(envPath); fi.Mode().Perm() != 0o600 {
		t.Errorf("env file mode %v, want 0600", fi.Mode())
	}
	dropIn := filepath.Join(root, "etc/systemd/system/auth0-adldap.service.d/proxy.conf")
	d, err := os.ReadFile(dropIn)
	if err != nil || !strings.Contains(string(d), "EnvironmentFile=/etc/adldapctl/proxy.env\n") {
		t.Fatalf("drop-in: %v\n%s", err, d)
	}
	// The password is in the 0600 env file and config.json only.
	checkNoSecret(t, proxyPass, r.stdout, r.stderr)
	checkNoSecretInFiles(t, proxyPass, root, envPath, cfgPath)

	// Setting it again changes nothing.
	r = run(t, "--root", root, "proxy", "set", pu)
	if r.code != 0 || !strings.Contains(r.stdout, "config.json:   unchanged") || strings.Contains(r.stdout, "service file:") {
		t.Errorf("second set: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// clear removes both and keeps the other keys.
	r = run(t, "--root", root, "proxy", "clear")
	if r.code != 0 {
		t.Fatalf("clear: exit %d\n%s", r.code, r.stderr)
	}
	got, _ = os.ReadFile(cfgPath)
	if string(got) != config {
		t.Errorf("after clear:\n%s\nwant\n%s", got, config)
	}
	for _, f := range []string{envPath, dropIn} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s left after clear", f)
		}
	}
	r = run(t, "--root", root, "--json", "proxy", "show")
	var s proxyShowJSON
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil || s.Source != "none" || s.Effective != "" {
		t.Errorf("show after clear: %v %s", err, r.stdout)
	}
}

func TestProxySetRefusesDuplicateKeys(t *testing.T) {
	const config = `{"HTTP_PROXY":"http://a:1","LDAP_URL":"x","HTTP_PROXY":"http://b:2"}`
	root, cfgPath := proxyRoot(t, config, 0o600)
	r := run(t, "--root", root, "proxy", "set", "http://proxy.example:3128")
	if r.code != ExitFailed || !strings.Contains(r.stderr, `"HTTP_PROXY" appears more than once`) {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if got, _ := os.ReadFile(cfgPath); string(got) != config {
		t.Error("config.json changed")
	}
	if _, err := os.Stat(filepath.Join(root, "etc/adldapctl/proxy.env")); err == nil {
		t.Error("env file written")
	}
}

func TestProxyShowServiceEnvironmentWins(t *testing.T) {
	root, _ := proxyRoot(t, `{"HTTP_PROXY":"http://cfg:CfgPassw0rd@cfgproxy:8080"}`, 0o600)
	r := run(t, "--root", root, "--json", "proxy", "show")
	var s proxyShowJSON
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatal(err, r.stdout)
	}
	if s.Source != "config.json" || s.Effective != "http://cfg:xxxxx@cfgproxy:8080" {
		t.Errorf("config only: %+v", s)
	}
	// The service environment, as proxy set writes it (here by hand, so
	// config.json keeps its own value), beats config.json.
	envPath := filepath.Join(root, "etc/adldapctl/proxy.env")
	dropIn := filepath.Join(root, "etc/systemd/system/auth0-adldap.service.d/proxy.conf")
	for path, data := range map[string]string{
		envPath: "HTTP_PROXY=\"http://svc:" + proxyPass + "@svcproxy:3128\"\n",
		dropIn:  "[Service]\nEnvironmentFile=/etc/adldapctl/proxy.env\n",
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r = run(t, "--root", root, "--json", "proxy", "show")
	s = proxyShowJSON{}
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatal(err, r.stdout)
	}
	if s.Source != "service environment" || s.Effective != "http://svc:xxxxx@svcproxy:3128" || s.ConfigJSON != "http://cfg:xxxxx@cfgproxy:8080" {
		t.Errorf("service env: %+v", s)
	}
	r = run(t, "--root", root, "proxy", "show")
	if !strings.Contains(r.stdout, "proxy: http://svc:xxxxx@svcproxy:3128 (from service environment)") || !strings.Contains(r.stdout, "overrides") {
		t.Errorf("human show:\n%s", r.stdout)
	}
	r2 := run(t, "--root", root, "--json", "status")
	var st statusJSON
	if json.Unmarshal([]byte(r2.stdout), &st) != nil || st.ProxySource != "service environment" {
		t.Errorf("status: %s", r2.stdout)
	}
	checkNoSecret(t, proxyPass, r.stdout+r2.stdout, r.stderr+r2.stderr)
	checkNoSecret(t, "CfgPassw0rd", r.stdout+r2.stdout, r.stderr+r2.stderr)
	// Without the drop-in systemd does not read the file: config.json counts.
	if err := os.Remove(dropIn); err != nil {
		t.Fatal(err)
	}
	r = run(t, "--root", root, "--json", "proxy", "show")
	s = proxyShowJSON{}
	if json.Unmarshal([]byte(r.stdout), &s) != nil || s.Source != "config.json" {
		t.Errorf("env file without drop-in: %s", r.stdout)
	}
}

func checkNoSecret(t *testing.T, secret string, outputs ...string) {
	t.Helper()
	for _, o := range outputs {
		if strings.Contains(o, secret) {
			t.Errorf("secret %q shown:\n%s", secret, o)
		}
	}
}

// checkNoSecretInFiles walks root: only the allowed files may hold secret.
func checkNoSecretInFiles(t *testing.T, secret, root string, allowed ...string) {
	t.Helper()
	err := filepath.Walk(root, func(path string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		for _, a := range allowed {
			if a == path {
				return nil
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the proxy password", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestInstallProxyRefusedBeforeAnything(t *testing.T) {
	feed := startFeed(t, testfeed.ReleaseSpec{Version: "6.4.1"})
	root := t.TempDir()
	// A proxy the connector cannot use is refused before anything is done.
	for _, p := range []string{"http://wpad.example/wpad.pac", "http://proxy.example", "http://u:p@ss@proxy.example:3128"} {
		r := run(t, "--root", root, "--feed", feed.URL, "install", "--proxy", p)
		if r.code != ExitUsage || !strings.Contains(r.stderr, "proxy") {
			t.Fatalf("install --proxy %s: exit %d\n%s", p, r.code, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(root, "opt/auth0-adldap")); err == nil {
			t.Fatal("install dir written for a refused --proxy")
		}
	}
}

func TestNodeFlagValidated(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "node")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{filepath.Join(dir, "missing"), notExec, dir} {
		root := t.TempDir()
		r := run(t, "--root", root, "install", "--node", n, "--from", filepath.Join(dir, "x.tar.gz"))
		if r.code != ExitUsage || !strings.Contains(r.stderr, "--node") {
			t.Errorf("--node %s: exit %d\n%s", n, r.code, r.stderr)
		}
		r = run(t, "--root", root, "update", "--node", n)
		if r.code != ExitUsage || !strings.Contains(r.stderr, "--node") {
			t.Errorf("update --node %s: exit %d\n%s", n, r.code, r.stderr)
		}
	}
}

func TestSudoHints(t *testing.T) {
	dnsErr := fmt.Errorf("download: %w", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "api.github.com"}})
	noNode := fmt.Errorf("stage: %w", installer.ErrNoNode)
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY"} {
		t.Setenv(k, "")
	}
	t.Setenv("SUDO_USER", "")
	if withSudoHint(dnsErr, "") != dnsErr || withSudoHint(noNode, "") != noNode {
		t.Error("hint without sudo")
	}
	t.Setenv("SUDO_USER", "alice")
	if got := withSudoHint(dnsErr, "").Error(); !strings.Contains(got, "sudo -E") || !strings.Contains(got, "--proxy") {
		t.Errorf("dns under sudo: %s", got)
	}
	if got := withSudoHint(dnsErr, "http://p:3128"); got != dnsErr {
		t.Errorf("proxy given, still hinted: %v", got)
	}
	if got := withSudoHint(noNode, ""); !strings.Contains(got.Error(), "--node") || !errors.Is(got, installer.ErrNoNode) {
		t.Errorf("node under sudo: %v", got)
	}
	other := errors.New("disk full")
	if withSudoHint(other, "") != other {
		t.Error("unrelated error hinted")
	}
}

func TestUninstallPurgeRemovesProxyServiceEnvironment(t *testing.T) {
	root, _ := proxyRoot(t, `{"LDAP_URL":"x"}`, 0o600)
	if r := run(t, "--root", root, "proxy", "set", "http://u:"+proxyPass+"@proxy.example:3128"); r.code != 0 {
		t.Fatalf("proxy set: %d %s", r.code, r.stderr)
	}
	r := run(t, "--root", root, "--yes", "uninstall", "--purge")
	if r.code != 0 {
		t.Fatalf("uninstall --purge: %d %s", r.code, r.stderr)
	}
	for _, f := range []string{"etc/adldapctl/proxy.env", "etc/systemd/system/auth0-adldap.service.d"} {
		if _, err := os.Stat(filepath.Join(root, f)); !os.IsNotExist(err) {
			t.Errorf("%s left after purge", f)
		}
	}
}

func TestNodeFlagPicksNodeForUnit(t *testing.T) {
	requireNode(t)
	real, _ := exec.LookPath("node")
	dir := t.TempDir()
	wrapper := filepath.Join(dir, "my node")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexec "+real+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	feed := startFeed(t, testfeed.ReleaseSpec{Version: "6.4.1"})
	root := t.TempDir()
	path := os.Getenv("PATH")
	r := run(t, "--root", root, "--feed", feed.URL, "install", "--node", wrapper)
	if r.code != 0 {
		t.Fatalf("install --node: exit %d\n%s", r.code, r.stderr)
	}
	if os.Getenv("PATH") != path {
		t.Error("PATH not restored")
	}
	unit, _ := os.ReadFile(filepath.Join(root, "etc/systemd/system/auth0-adldap.service"))
	if !strings.Contains(string(unit), `ExecStart="`+wrapper+`" server.js`) {
		t.Errorf("unit does not run --node:\n%s", unit)
	}
}
