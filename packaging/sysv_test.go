package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func sysvConfig() SysVConfig {
	return SysVConfig{
		Name:        "auth0-adldap",
		Description: "Auth0 AD/LDAP Connector",
		Exec:        "/usr/bin/node",
		Args:        []string{"server.js"},
		WorkingDir:  "/opt/auth0-adldap",
		LogFile:     "/var/log/auth0-adldap.log",
		PIDFile:     "/run/auth0-adldap.pid",
		Env:         map[string]string{"NODE_ENV": "production", "HTTP_PROXY": "http://proxy.example:3128"},
		EnvFile:     "/etc/adldapctl/proxy.env",
	}
}

func TestRenderSysVInitGolden(t *testing.T) {
	got, err := RenderSysVInit(sysvConfig())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "auth0-adldap.init", got)
	for _, want := range []string{
		"# Provides:          auth0-adldap\n",
		"# Default-Start:     2 3 4 5\n",
		"WORKDIR=/opt/auth0-adldap\n",
		"LOGFILE=/var/log/auth0-adldap.log\n",
		"PIDFILE=/run/auth0-adldap.pid\n",
		"export NODE_ENV=production\n",
		"--chdir \"$WORKDIR\"",
		"--output \"$LOGFILE\" --exec \"$EXEC\" -- server.js || return\n",
		"ENVFILE=/etc/adldapctl/proxy.env\n",
		"\t. \"$ENVFILE\"\n",
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("init script lacks %q", want)
		}
	}
}

func TestRenderSysVInitQuotesAndRejects(t *testing.T) {
	c := sysvConfig()
	c.Exec = "/opt/my node/bin/node"
	c.Env = map[string]string{"HTTP_PROXY": "http://u:p'$x@proxy:3128"}
	got, err := RenderSysVInit(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`EXEC='/opt/my node/bin/node'`, `export HTTP_PROXY='http://u:p'\''$x@proxy:3128'`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("init script lacks %q:\n%s", want, got)
		}
	}
	bad := []func(*SysVConfig){
		func(c *SysVConfig) { c.WorkingDir = "/w\nrm -rf /" },
		func(c *SysVConfig) { c.Env = map[string]string{"A": "x\ny"} },
		func(c *SysVConfig) { c.Env = map[string]string{"A;rm": "x"} },
		func(c *SysVConfig) { c.Name = "../x" },
		func(c *SysVConfig) { c.PIDFile = "" },
	}
	for i, f := range bad {
		c := sysvConfig()
		f(&c)
		if _, err := RenderSysVInit(c); err == nil {
			t.Errorf("bad config %d accepted", i)
		}
	}
}

// TestRenderSysVInitParses runs the script through sh -n and, when its
// start-stop-daemon is stubbed, through the status exit codes.
func TestRenderSysVInitParses(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	c := sysvConfig()
	c.PIDFile = filepath.Join(dir, "pid")
	got, err := RenderSysVInit(c)
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "init")
	if err := os.WriteFile(script, got, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sh, "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("sh -n: %v\n%s", err, out)
	}
	// A stub start-stop-daemon first on PATH: the script sets PATH itself,
	// so put the stub where it looks first.
	stubDir := filepath.Join(dir, "bin")
	os.Mkdir(stubDir, 0o755)
	for _, tc := range []struct {
		rc   int
		want string
	}{{0, "is running"}, {1, "it exited"}, {3, "is not running"}, {4, "unknown"}} {
		stub := "#!/bin/sh\nexit " + string(rune('0'+tc.rc)) + "\n"
		os.WriteFile(filepath.Join(stubDir, "start-stop-daemon"), []byte(stub), 0o755)
		body := strings.Replace(string(got), "PATH=/usr/local/sbin:", "PATH="+stubDir+":/usr/local/sbin:", 1)
		os.WriteFile(script, []byte(body), 0o755)
		os.WriteFile(c.PIDFile, []byte("4242\n"), 0o644)
		out, err := exec.Command(sh, script, "status").CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != tc.rc || !strings.Contains(string(out), tc.want) {
			t.Errorf("status with start-stop-daemon exit %d: exit %d, %q", tc.rc, code, out)
		}
	}
}

// TestSysVSourcesEnvFileLikeSystemd: the env file RenderEnvFile writes
// reads back the same through sh (the init script) and ParseEnvFile.
func TestSysVSourcesEnvFileLikeSystemd(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	want := map[string]string{"HTTP_PROXY": `http://u:p%40s"s$x` + "`y\\z'@proxy:3128", "https_proxy": "http://p:1"}
	data, err := RenderEnvFile(want)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "proxy.env")
	if err := os.WriteFile(f, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sh, "-c", `set -a; . "$1"; set +a; printf '%s\n' "$HTTP_PROXY"`, "sh", f).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSuffix(string(out), "\n"); got != want["HTTP_PROXY"] {
		t.Errorf("sh reads %q, want %q", got, want["HTTP_PROXY"])
	}
	back, err := ParseEnvFile(data)
	if err != nil || len(back) != 2 || back["HTTP_PROXY"] != want["HTTP_PROXY"] || back["https_proxy"] != want["https_proxy"] {
		t.Errorf("ParseEnvFile: %v %q", err, back)
	}
}
