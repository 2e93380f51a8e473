package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// install writes an install folder like the MSI's.
func install(t *testing.T, server, admin, config string) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"server.js":            server,
		"admin/server.js":      admin,
		"package.json":         `{"name":"ad-ldap-connector","version":"6.0.0"}`,
		"lib/profileMapper.js": "module.exports = function (p) { return p; };\n",
	}
	if config != "" {
		files["config.json"] = config
	}
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const stamped = "'use strict';\nconst VERSION = '6.4.1';\nconst CRASH_ON_START = false;\n"

func TestLoad(t *testing.T) {
	t.Setenv("PORT", "")
	t.Setenv("PROVISIONING_TICKET", "")
	root := install(t, stamped, "const VERSION = '6.4.1';\nconst ADMIN_PORT = 18357;\n",
		"\xef\xbb\xbf{\"PORT\": 40001, \"PROVISIONING_TICKET\": \"https://t.example/p/ad/x\"}")
	a, err := load("server.js", root)
	if err != nil {
		t.Fatal(err)
	}
	if a.Admin || a.Version != "6.4.1" || a.Crash || !a.Ticket || a.Port != 40001 || a.Root != root {
		t.Errorf("server.js: %+v", a)
	}
	a, err = load(`"`+filepath.Join(root, "admin", "server.js")+`"`, "/")
	if err != nil {
		t.Fatal(err)
	}
	if !a.Admin || a.Port != 18357 || a.Root != root || a.Version != "6.4.1" {
		t.Errorf("admin/server.js: %+v", a)
	}

	// No stamp: package.json's version; no config.json: defaults.
	root = install(t, "'use strict';\n", "", "")
	a, err = load(filepath.Join(root, "server.js"), "/")
	if err != nil {
		t.Fatal(err)
	}
	if a.Version != "6.0.0" || a.Ticket || a.Port != defaultPort {
		t.Errorf("unstamped: %+v", a)
	}
	a, err = load(filepath.Join(root, "admin", "server.js"), "/")
	if err != nil || a.Port != defaultAdminPort {
		t.Errorf("admin default port: %+v, %v", a, err)
	}
	// config.json ADMIN_PORT wins over the stamp.
	root = install(t, stamped, "const ADMIN_PORT = 18357;\n", `{"ADMIN_PORT": "18400"}`)
	if a, err = load(filepath.Join(root, "admin", "server.js"), "/"); err != nil || a.Port != 18400 {
		t.Errorf("ADMIN_PORT from config.json: %+v, %v", a, err)
	}
}

func TestLoadFailures(t *testing.T) {
	crash := strings.Replace(stamped, "CRASH_ON_START = false", "CRASH_ON_START = true", 1)
	root := install(t, crash, "", `not json`)
	a, err := load(filepath.Join(root, "server.js"), "/")
	if err != nil || !a.Crash {
		t.Errorf("crash sample: %+v, %v (it crashes before reading config.json)", a, err)
	}
	// The admin UI of a crashing sample starts.
	if a, err := load(filepath.Join(root, "admin", "server.js"), "/"); err == nil || a != nil && a.Crash {
		t.Errorf("admin of a crash sample with a bad config.json: %+v, %v", a, err)
	}

	secret := "hunter2-secret"
	root = install(t, stamped, "", `{"PROVISIONING_TICKET": "`+secret+`",`)
	if _, err := load(filepath.Join(root, "server.js"), "/"); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("bad config.json: %v (want an error without its contents)", err)
	}

	root = install(t, stamped, "", `{"PORT": 70000}`)
	if _, err := load(filepath.Join(root, "server.js"), "/"); err == nil {
		t.Error("PORT 70000 accepted")
	}

	root = install(t, stamped, "", `{"PROFILE_MAPPER_FILE": "custom/mapper.js"}`)
	if _, err := load(filepath.Join(root, "server.js"), "/"); err == nil || !strings.Contains(err.Error(), "profile mapper") {
		t.Errorf("missing PROFILE_MAPPER_FILE: %v", err)
	}
	if err := os.Remove(filepath.Join(root, "lib", "profileMapper.js")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "config.json"), []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := load(filepath.Join(root, "server.js"), "/"); err == nil {
		t.Error("started without lib/profileMapper.js")
	}
	if _, err := load(filepath.Join(root, "index.js"), "/"); err == nil {
		t.Error("index.js accepted")
	}
}

func TestAnswer(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://user:pw-secret@127.0.0.1:3128")
	t.Setenv("NO_PROXY", "localhost")
	t.Setenv("HTTPS_PROXY", "")
	a := &app{Version: "6.4.1", Ticket: true}
	srv := httpServe(t, a)
	resp, err := http.Get(srv + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(b), "pw-secret") || strings.Contains(string(b), "3128") {
		t.Fatalf("the answer shows the proxy: %s", b)
	}
	var got answer
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Version != "6.4.1" || !got.Ticket || !got.ProxyEnv || strings.Join(got.ProxyVars, ",") != "HTTP_PROXY,NO_PROXY" || got.PID != os.Getpid() {
		t.Errorf("answer = %s", b)
	}
	if resp, err := http.Get(srv + "/x"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /x: %v %v", resp, err)
	}

	t.Setenv("HTTP_PROXY", "")
	got = answer{}
	resp, err = http.Get(httpServe(t, a) + "/")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || got.ProxyEnv {
		t.Errorf("NO_PROXY alone: %+v, %v", got, err)
	}
	resp.Body.Close()
}

func httpServe(t *testing.T, a *app) string {
	t.Helper()
	a.Port = 0
	ln, err := a.listen()
	if err != nil {
		t.Fatal(err)
	}
	srv := a.server()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}
