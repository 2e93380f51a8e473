package postinstall

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/platform"
	"github.com/adldapctl/adldapctl/updater"
)

// goodConfig is a provisioned connector's config.json (fake values).
const goodConfig = `{
  "AD_HUB": "https://login.auth0.com/lo/hub",
  "PORT": 4000,
  "PROVISIONING_TICKET": "https://tenant.example.com/p/ad/TICKET123456",
  "LDAP_URL": "ldap://dc1.corp.example:389",
  "LDAP_BASE": "dc=corp,dc=example",
  "LDAP_BIND_USER": "svc-auth0@corp.example",
  "LDAP_BIND_CREDENTIALS": "encrypted-blob-value"
}`

// fixture installs a fake connector under a temp root and returns its Env.
func fixture(t *testing.T, config string) *Env {
	t.Helper()
	root := t.TempDir()
	p, err := platform.Detect(root)
	if err != nil {
		t.Fatal(err)
	}
	p.OS = "linux"
	p.NodePath = "/usr/bin/node"
	dir := p.Paths.InstallDir
	must(t, os.MkdirAll(filepath.Join(dir, "certs"), 0o700))
	must(t, os.WriteFile(filepath.Join(dir, "server.js"), []byte("// server\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name":"ad-ldap-connector","version":"0.0.0","engines":{"node":"^22.11.0"}}`), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "certs", "cert.key"), []byte("key"), 0o600))
	if config != "" {
		must(t, os.WriteFile(p.Paths.ConfigFile, []byte(config), 0o600))
	}
	must(t, os.MkdirAll(p.Paths.StateDir, 0o755))
	rec := &connector.InstallRecord{Version: "6.4.1", InstalledAt: time.Now()}
	b, err := rec.Encode()
	must(t, err)
	must(t, os.WriteFile(filepath.Join(p.Paths.StateDir, connector.RecordFile), b, 0o644))
	env := &Env{Platform: p,
		NodeVersion: func(context.Context, string) (string, error) { return "v22.12.0", nil },
		FreeSpace:   func(string, int64) error { return nil },
	}
	env.LoadConfig()
	return env
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// run runs one local check and asserts its status and that the diagnosis
// holds want.
func run(t *testing.T, env *Env, id string, st Status, want string) Result {
	t.Helper()
	rep, err := Run(context.Background(), env, localChecks(), Options{Only: []string{id}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Checks) != 1 {
		t.Fatalf("%s: %d results", id, len(rep.Checks))
	}
	r := rep.Checks[0]
	if r.Status != st || !strings.Contains(r.Diagnosis, want) {
		t.Errorf("%s: %s %q (fix %q), want %s containing %q", id, r.Status, r.Diagnosis, r.Remediation, st, want)
	}
	if st == Fail || st == Warn {
		if r.Remediation == "" {
			t.Errorf("%s: no remediation", id)
		}
	}
	return r
}

func TestInstallFiles(t *testing.T) {
	env := fixture(t, goodConfig)
	run(t, env, IDInstallFiles, Pass, "6.4.1")
	must(t, os.Remove(filepath.Join(env.Platform.Paths.InstallDir, "server.js")))
	r := run(t, env, IDInstallFiles, Fail, "server.js")
	if !strings.Contains(r.Remediation, "adldapctl install") {
		t.Errorf("fix %q", r.Remediation)
	}
	must(t, os.RemoveAll(env.Platform.Paths.InstallDir))
	run(t, env, IDInstallFiles, Fail, "is missing")

	env = fixture(t, goodConfig)
	must(t, os.Remove(filepath.Join(env.Platform.Paths.StateDir, connector.RecordFile)))
	run(t, env, IDInstallFiles, Warn, "no install record")
}

func TestConfigValid(t *testing.T) {
	run(t, fixture(t, goodConfig), IDConfigValid, Pass, "well-formed")
	run(t, fixture(t, "\xEF\xBB\xBF"+goodConfig), IDConfigValid, Warn, "byte order mark")
	run(t, fixture(t, `{"PORT": 4000,`), IDConfigValid, Fail, "does not parse")
	run(t, fixture(t, ""), IDConfigValid, Fail, "does not exist")
	run(t, fixture(t, `{"PORT": 4000}`), IDConfigValid, Fail, "PROVISIONING_TICKET is missing")
	bad := strings.Replace(goodConfig, "ldap://dc1", "http://dc1", 1)
	run(t, fixture(t, bad), IDConfigValid, Fail, `scheme "http"`)
	bad = strings.Replace(goodConfig, `"PORT": 4000`, `"PORT": "forty"`, 1)
	run(t, fixture(t, bad), IDConfigValid, Fail, "PORT")
	bad = strings.Replace(goodConfig, `"LDAP_BASE": "dc=corp,dc=example",`, ``, 1)
	run(t, fixture(t, bad), IDConfigValid, Fail, "LDAP_BASE is missing")
	bad = strings.Replace(goodConfig, `"LDAP_BIND_CREDENTIALS": "encrypted-blob-value"`, `"ANONYMOUS_SEARCH_ENABLED": false`, 1)
	run(t, fixture(t, bad), IDConfigValid, Fail, "LDAP_BIND_PASSWORD nor LDAP_BIND_CREDENTIALS")
	bad = strings.Replace(goodConfig, `"LDAP_BIND_CREDENTIALS": "encrypted-blob-value"`, `"ANONYMOUS_SEARCH_ENABLED": true`, 1)
	run(t, fixture(t, bad), IDConfigValid, Pass, "well-formed")
	run(t, fixture(t, `{"PROVISIONING_TICKET": "https://t.example.com/p/ad/X1234567"}`), IDConfigValid, Warn, "LDAP_URL is not set")
	r := run(t, fixture(t, strings.Replace(goodConfig, "https://tenant", "ftp://tenant", 1)), IDConfigValid, Fail, "PROVISIONING_TICKET")
	if strings.Contains(r.Diagnosis, "TICKET123456") {
		t.Errorf("the ticket leaked: %q", r.Diagnosis)
	}
}

func TestConfigPerms(t *testing.T) {
	env := fixture(t, goodConfig)
	run(t, env, IDConfigPerms, Pass, "owner only")
	must(t, os.Chmod(env.Platform.Paths.ConfigFile, 0o644))
	r := run(t, env, IDConfigPerms, Fail, "0644")
	if !strings.Contains(r.Remediation, "chmod 600") {
		t.Errorf("fix %q", r.Remediation)
	}
	env = fixture(t, goodConfig)
	must(t, os.Chmod(filepath.Join(env.Platform.Paths.InstallDir, "certs", "cert.key"), 0o644))
	run(t, env, IDConfigPerms, Fail, "cert.key")
}

type fakeServices struct {
	platform.ServiceManager
	st  platform.ServiceState
	err error
}

func (f fakeServices) Status(string) (platform.ServiceState, error) { return f.st, f.err }

func TestServiceRunning(t *testing.T) {
	env := fixture(t, goodConfig)
	run(t, env, IDServiceRunning, Skip, "sandbox")
	env.Platform.Root = "" // as on a host, with a fake manager
	env.Services = fakeServices{st: platform.ServiceState{Installed: true, Active: "active", Sub: "running", PID: 42}}
	run(t, env, IDServiceRunning, Pass, "pid 42")
	env.Services = fakeServices{st: platform.ServiceState{Installed: true, Active: "active", Sub: "running", PID: 42, Restarts: 5}}
	run(t, env, IDServiceRunning, Fail, "restart-looping")
	env.Services = fakeServices{st: platform.ServiceState{Installed: true, Active: "failed", Sub: "failed"}}
	r := run(t, env, IDServiceRunning, Fail, "not running")
	if !strings.Contains(r.Remediation, "adldapctl service start") {
		t.Errorf("fix %q", r.Remediation)
	}
	env.Services = fakeServices{err: platform.ErrServiceNotInstalled}
	run(t, env, IDServiceRunning, Fail, "not registered")
}

func TestVersionCurrent(t *testing.T) {
	env := fixture(t, goodConfig)
	run(t, env, IDVersionCurrent, Skip, "no release feed")
	env.LatestVersion = func() (string, error) { return "6.4.1", nil }
	run(t, env, IDVersionCurrent, Pass, "latest")
	env.LatestVersion = func() (string, error) { return "v6.5.0", nil }
	r := run(t, env, IDVersionCurrent, Warn, "v6.5.0 is available")
	if !strings.Contains(r.Remediation, "adldapctl update") {
		t.Errorf("fix %q", r.Remediation)
	}
	env.LatestVersion = func() (string, error) { return "", errors.New("dial tcp: connection refused") }
	run(t, env, IDVersionCurrent, Skip, "connection refused")
}

func TestNodeRuntime(t *testing.T) {
	env := fixture(t, goodConfig)
	run(t, env, IDNodeRuntime, Pass, "v22.12.0 satisfies")
	env.NodeVersion = func(context.Context, string) (string, error) { return "v20.20.2", nil }
	r := run(t, env, IDNodeRuntime, Fail, "v20.20.2")
	if !strings.Contains(r.Remediation, "22") {
		t.Errorf("fix %q", r.Remediation)
	}
	env.Platform.NodePath = ""
	run(t, env, IDNodeRuntime, Fail, "not on PATH")
}

func TestDiskSpace(t *testing.T) {
	env := fixture(t, goodConfig)
	run(t, env, IDDiskSpace, Pass, "room")
	env.FreeSpace = func(dir string, need int64) error {
		return fmt.Errorf("%s: %w: need %d", dir, updater.ErrNoSpace, need)
	}
	run(t, env, IDDiskSpace, Fail, "too little room")
}

func TestCacheGroups(t *testing.T) {
	run(t, fixture(t, goodConfig), IDCacheGroups, Pass, "default 600")
	with := func(v string) string { return strings.Replace(goodConfig, "{", `{"GROUPS_CACHE_SECONDS": `+v+",", 1) }
	run(t, fixture(t, with("300")), IDCacheGroups, Pass, "300")
	run(t, fixture(t, with("0")), IDCacheGroups, Warn, "cache is off")
	run(t, fixture(t, with(`"ten"`)), IDCacheGroups, Fail, "not a number")
	run(t, fixture(t, with("-5")), IDCacheGroups, Fail, "not a number")
}

func TestKerberosConfig(t *testing.T) {
	run(t, fixture(t, goodConfig), IDKerberosConfig, Skip, "off")
	with := func(v string) string { return strings.Replace(goodConfig, "{", `{"KERBEROS_AUTH": `+v+",", 1) }
	r := run(t, fixture(t, with("true")), IDKerberosConfig, Warn, "Windows")
	if !strings.Contains(r.Remediation, "DEBUG=kerberos-server") {
		t.Errorf("fix %q", r.Remediation)
	}
	env := fixture(t, with("true"))
	env.Platform.OS = "windows"
	run(t, env, IDKerberosConfig, Pass, "DEBUG=kerberos-server")
	run(t, fixture(t, with(`"yes"`)), IDKerberosConfig, Fail, "true or false")
	run(t, fixture(t, with(`true, "WITH_KERBEROS_PROXY_FRONTEND": true`)), IDKerberosConfig, Pass, "front end")
	run(t, fixture(t, with(`true, "KERBEROS_DEBUG_USER": "CORP\\alice"`)), IDKerberosConfig, Fail, "KERBEROS_DEBUG_USER")
}

func TestProxyConfig(t *testing.T) {
	run(t, fixture(t, goodConfig), IDProxyConfig, Pass, "no proxy")
	with := func(v string) string { return strings.Replace(goodConfig, "{", `{"HTTP_PROXY": "`+v+`",`, 1) }
	r := run(t, fixture(t, with("http://proxy.corp:3128")), IDProxyConfig, Pass, "from config.json")
	if r.Detail["source"] != "config.json" {
		t.Errorf("detail %v", r.Detail)
	}
	env := fixture(t, with("http://proxy.corp:3128"))
	env.ServiceEnv = map[string]string{"HTTP_PROXY": "http://envproxy.corp:8080"}
	run(t, env, IDProxyConfig, Pass, "envproxy.corp:8080 from the service environment (it overrides")
	run(t, fixture(t, with("http://wpad.corp/proxy.pac")), IDProxyConfig, Fail, "PAC")
	r = run(t, fixture(t, with("http://user:pa%zzword@proxy.corp:3128")), IDProxyConfig, Fail, "silently connect directly")
	if strings.Contains(r.Diagnosis+fmt.Sprint(r.Detail), "pa%zzword") {
		t.Errorf("password shown: %q %v", r.Diagnosis, r.Detail)
	}
	run(t, fixture(t, with("socks5://proxy.corp:1080")), IDProxyConfig, Fail, "socks5")
	r = run(t, fixture(t, with("http://user:S3cretPw@proxy.corp:3128")), IDProxyConfig, Warn, "credentials")
	if strings.Contains(r.Diagnosis+r.Remediation+fmt.Sprint(r.Detail), "S3cretPw") {
		t.Errorf("password shown: %q %v", r.Diagnosis, r.Detail)
	}
}
