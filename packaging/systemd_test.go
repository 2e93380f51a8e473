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
