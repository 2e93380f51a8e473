package packaging

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./packaging -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestRenderSystemdUnitGolden(t *testing.T) {
	got, err := RenderSystemdUnit(UnitConfig{
		Description:  "Auth0 AD/LDAP Connector",
		Exec:         "/usr/bin/node",
		Args:         []string{"server.js"},
		WorkingDir:   "/opt/auth0-adldap",
		LogFile:      "/var/log/auth0-adldap.log",
		RestartDelay: 5 * time.Second,
		Env:          map[string]string{"NODE_ENV": "production", "HTTP_PROXY": "http://proxy.example:3128"},
	})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "auth0-adldap.service", got)
	for _, want := range []string{
		"WorkingDirectory=/opt/auth0-adldap\n",
		"ExecStart=/usr/bin/node server.js\n",
		"Restart=always\n",
		"RestartSec=5\n",
		"StandardOutput=append:/var/log/auth0-adldap.log\n",
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("unit lacks %q", want)
		}
	}
}

func TestRenderSystemdUnitQuotesAndRejects(t *testing.T) {
	got, err := RenderSystemdUnit(UnitConfig{Exec: "/opt/my node/bin/node", Args: []string{"server.js"}, WorkingDir: "/opt/auth0-adldap", LogFile: "/l"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), `ExecStart="/opt/my node/bin/node" server.js`) {
		t.Errorf("path with space not quoted:\n%s", got)
	}
	if !strings.Contains(string(got), "RestartSec=5\n") {
		t.Errorf("default RestartSec not 5:\n%s", got)
	}
	if _, err := RenderSystemdUnit(UnitConfig{Exec: "/n", WorkingDir: "/w\nExecStartPre=/bin/evil", LogFile: "/l"}); err == nil {
		t.Error("line break in a value was accepted")
	}
	if _, err := RenderSystemdUnit(UnitConfig{Exec: "/n", WorkingDir: "/w", LogFile: "/l", Env: map[string]string{"A": "x\ny"}}); err == nil {
		t.Error("line break in an environment value was accepted")
	}
}

func TestRenderLogrotateGolden(t *testing.T) {
	golden(t, "auth0-adldap.logrotate", RenderLogrotate("/var/log/auth0-adldap.log"))
}

// TestRenderSystemdUnitQuotingPerDirective renders $, %, spaces, quotes and
// backslashes in every directive: % is %% everywhere, $ is $$ only in
// ExecStart='s arguments (not its executable path, run as written, so a
// path with $ is given as "@path argv0"), quotes and backslashes are C-escaped inside "..." in
// ExecStart= and Environment=, paths are written as they are.
func TestRenderSystemdUnitQuotingPerDirective(t *testing.T) {
	got, err := RenderSystemdUnit(UnitConfig{
		Description: `Connector 100% "prod" $HOME`,
		Exec:        `/opt/n$de 50%/bin/node`,
		Args:        []string{"server.js", `--x=a"b\c`, "$1", "10%"},
		WorkingDir:  `/opt/auth0 $dir/100%/a"b\c`,
		LogFile:     `/var/log/a $b%c.log`,
		Env: map[string]string{
			"PLAIN":      "production",
			"DOLLAR":     "pa$$word$HOME",
			"PERCENT":    "50%off",
			"SPACES":     `a b "c" d\e`,
			"HTTP_PROXY": "http://u:p%40ss$@proxy:3128",
		},
		EnvFiles: []string{"-/etc/adldapctl/proxy 100%.env"},
	})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "quoting.service", got)
	for _, want := range []string{
		"Description=Connector 100%% \"prod\" $HOME\n",
		`ExecStart=@"/opt/n$de 50%%/bin/node" "/opt/n$$de 50%%/bin/node" server.js "--x=a\"b\\c" $$1 10%%` + "\n",
		`WorkingDirectory=/opt/auth0 $dir/100%%/a"b\c` + "\n",
		"Environment=DOLLAR=pa$$word$HOME\n", // $ literal: written as is
		"Environment=PERCENT=50%%off\n",
		`Environment="SPACES=a b \"c\" d\\e"` + "\n",
		"Environment=HTTP_PROXY=http://u:p%%40ss$@proxy:3128\n",
		"Environment=PLAIN=production\n",
		"EnvironmentFile=-/etc/adldapctl/proxy 100%%.env\n",
		"StandardOutput=append:/var/log/a $b%%c.log\n",
		"StandardError=append:/var/log/a $b%%c.log\n",
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("unit lacks %q:\n%s", want, got)
		}
	}
}

func TestRenderSystemdUnitRefusesUnwritablePaths(t *testing.T) {
	for _, c := range []UnitConfig{
		{Exec: "/n", WorkingDir: `/w\`, LogFile: "/l"},
		{Exec: "/n", WorkingDir: "/w ", LogFile: "/l"},
		{Exec: "/n", WorkingDir: "w", LogFile: "/l"},
		{Exec: "/n", WorkingDir: "/w", LogFile: "/l", EnvFiles: []string{"/e\nX=1"}},
		{Exec: "/n", WorkingDir: "/w", LogFile: "/l", Env: map[string]string{"A B": "x"}},
	} {
		if _, err := RenderSystemdUnit(c); err == nil {
			t.Errorf("accepted %+v", c)
		}
	}
}

func TestRenderDropInAndEnvFile(t *testing.T) {
	d, err := RenderDropIn("/etc/adldapctl/proxy.env")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "proxy.conf", d)
	env, err := RenderEnvFile(map[string]string{
		"HTTP_PROXY": `http://u:p%40s"s$x` + "`\\@proxy:3128", "https_proxy": "http://proxy:3128",
	})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "proxy.env", env)
	if !strings.Contains(string(env), `HTTP_PROXY="http://u:p%40s\"s\$x`+"\\`"+`\\@proxy:3128"`) {
		t.Errorf("env file quoting:\n%s", env)
	}
	if _, err := RenderEnvFile(map[string]string{"A": "x\ny"}); err == nil {
		t.Error("line break accepted")
	}
	if _, err := RenderDropIn("relative.env"); err == nil {
		t.Error("relative EnvironmentFile accepted")
	}
}
