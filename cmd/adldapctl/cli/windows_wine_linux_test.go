//go:build linux

package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/internal/certs"
	"github.com/adldapctl/adldapctl/internal/certs/certstest"
	"github.com/adldapctl/adldapctl/internal/testbed"
)

// wineTools builds adldapctl.exe and the probe that reads the stores and
// the registry from a process of its own.
func wineTools(t *testing.T) (w *testbed.Wine, exe, probe string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no Wine")
	}
	w = testbed.StartWine(t)
	dir := t.TempDir()
	exe, probe = filepath.Join(dir, "adldapctl.exe"), filepath.Join(dir, "winprobe.exe")
	testbed.BuildTool(t, exe, testbed.BuildOptions{GOOS: "windows", GOARCH: "amd64"})
	testbed.BuildWindows(t, probe, "github.com/adldapctl/adldapctl/platform/testdata/winprobe")
	return w, exe, probe
}

// storeCount counts fingerprint fp in store (Root or CA) as the probe
// lists them.
func storeCount(t *testing.T, w *testbed.Wine, probe, store, fp string) int {
	t.Helper()
	out, stderr, code := w.Run(t, probe, "certs")
	if code != 0 {
		t.Fatalf("winprobe certs: exit %d: %s", code, stderr)
	}
	return strings.Count(out, store+" "+fp+"\n")
}

// TestWindowsUnderWine runs the Windows adldapctl.exe in one Wine prefix
// (one build of it and of the probe).
func TestWindowsUnderWine(t *testing.T) {
	w, exe, probe := wineTools(t)
	t.Run("certs", func(t *testing.T) { testWindowsCerts(t, w, exe, probe) })
	t.Run("proxy", func(t *testing.T) { testWindowsProxy(t, w, exe, probe) })
}

// testWindowsCerts: certs import of a chain twice puts the
// root in LocalMachine Root and the intermediate in CA once, as a separate
// process enumerating the stores sees them; certs remove takes them out.
func testWindowsCerts(t *testing.T, w *testbed.Wine, exe, probe string) {
	ch := certstest.NewChain(t, "Wine")
	rootFP, interFP, leafFP := certs.Fingerprint(ch.Root), certs.Fingerprint(ch.Inter), certs.Fingerprint(ch.Leaf)
	chain := filepath.Join(t.TempDir(), "chain.pem")
	if err := os.WriteFile(chain, certstest.PEM(ch.Leaf, ch.Inter, ch.Root), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		stdout, stderr, code := w.Run(t, exe, "certs", "import", w.WinPath(chain), "--yes")
		t.Logf("import %d: exit %d\n%s%s", i+1, code, stdout, stderr)
		if code != 0 {
			t.Fatalf("import %d: exit %d", i+1, code)
		}
		if !strings.Contains(stdout, `LocalMachine\Root`) || !strings.Contains(stdout, `LocalMachine\CA`) {
			t.Errorf("import %d does not name the stores", i+1)
		}
		if i == 1 && !strings.Contains(stdout, "already present") {
			t.Errorf("second import does not say the certificates were already present")
		}
	}
	if n := storeCount(t, w, probe, "Root", rootFP); n != 1 {
		t.Errorf("root in LocalMachine Root %d times after two imports, want 1", n)
	}
	if n := storeCount(t, w, probe, "CA", interFP); n != 1 {
		t.Errorf("intermediate in LocalMachine CA %d times after two imports, want 1", n)
	}
	if storeCount(t, w, probe, "CA", rootFP)+storeCount(t, w, probe, "Root", interFP)+
		storeCount(t, w, probe, "Root", leafFP)+storeCount(t, w, probe, "CA", leafFP) != 0 {
		t.Error("a certificate landed in the wrong store, or the leaf was imported")
	}
	stdout, _, code := w.Run(t, exe, "certs", "list", "--json")
	var list struct {
		Certificates []certInfo `json:"certificates"`
		Store        string     `json:"store"`
	}
	if err := json.Unmarshal([]byte(stdout), &list); err != nil || code != 0 || len(list.Certificates) != 2 {
		t.Fatalf("certs list --json: exit %d, %v\n%s", code, err, stdout)
	}
	stdout, stderr, code := w.Run(t, exe, "certs", "remove", rootFP)
	if code != 0 {
		t.Fatalf("certs remove: exit %d\n%s%s", code, stdout, stderr)
	}
	if storeCount(t, w, probe, "Root", rootFP)+storeCount(t, w, probe, "CA", interFP) != 0 {
		t.Errorf("still in the stores after certs remove:\n%s", stdout)
	}
	// --root on Windows never touches the host's stores.
	_, stderr, code = w.Run(t, exe, "--root", `C:\sandbox`, "certs", "import", w.WinPath(chain), "--yes")
	if code == 0 || !strings.Contains(stderr, "--root on Windows") {
		t.Errorf("--root import: exit %d: %s", code, stderr)
	}
}

// testWindowsProxy: proxy set writes config.json and the
// service's registry environment (read back by a separate process),
// restarts the service, and prints no password; clear removes ours.
func testWindowsProxy(t *testing.T, w *testbed.Wine, exe, probe string) {
	inst := `C:\Program Files (x86)\Auth0\AD LDAP Connector`
	if err := os.MkdirAll(w.HostPath(inst), 0o755); err != nil {
		t.Fatal(err)
	}
	node := w.HostPath(inst + `\node.exe`)
	data, err := os.ReadFile(probe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(node, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.HostPath(inst+`\config.json`), []byte(`{"LDAP_URL": "ldap://127.0.0.1:389"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The connector's service, registered directly (no nssm): the probe
	// as node.exe, writing its environment at each start.
	envFile := inst + `\service-env.txt`
	bin := `"` + inst + `\node.exe" serve "Auth0 ADLDAP" "` + envFile + `"`
	if out, stderr, code := w.Run(t, "sc", "create", "Auth0 ADLDAP", "binpath=", bin, "start=", "auto"); code != 0 {
		t.Fatalf("sc create: exit %d\n%s%s", code, out, stderr)
	}
	if out, stderr, code := w.Run(t, "sc", "start", "Auth0 ADLDAP"); code != 0 {
		t.Fatalf("sc start: exit %d\n%s%s", code, out, stderr)
	}
	t.Cleanup(func() { w.Run(t, "sc", "stop", "Auth0 ADLDAP") })
	waitFile(t, w.HostPath(envFile))
	_ = os.Remove(w.HostPath(envFile))

	const secret = "S3cretPw"
	stdout, stderr, code := w.Run(t, exe, "proxy", "set", "http://fleet:"+secret+"@127.0.0.1:3128")
	t.Logf("proxy set: exit %d\n%s%s", code, stdout, stderr)
	if code != 0 {
		t.Fatalf("proxy set: exit %d", code)
	}
	if strings.Contains(stdout+stderr, secret) {
		t.Error("proxy set printed the password")
	}
	if strings.Contains(stdout, "chmod") {
		t.Error("proxy set gives Unix file-mode advice on Windows")
	}
	value := `HKLM\SYSTEM\CurrentControlSet\Services\Auth0 ADLDAP\Environment`
	if !strings.Contains(stdout, value) || !strings.Contains(stdout, "restarted") {
		t.Errorf("proxy set output does not name %s or the restart", value)
	}
	reg, _, _ := w.Run(t, probe, "regmulti", `SYSTEM\CurrentControlSet\Services\Auth0 ADLDAP`, "Environment")
	want := "HTTP_PROXY=http://fleet:" + secret + "@127.0.0.1:3128"
	if !strings.Contains(reg, want+"\n") || !strings.Contains(reg, "HTTPS_PROXY=") {
		t.Errorf("service Environment as another process reads it:\n%s", reg)
	}
	cfg, _ := os.ReadFile(w.HostPath(inst + `\config.json`))
	if !strings.Contains(string(cfg), `"HTTP_PROXY"`) || !strings.Contains(string(cfg), "LDAP_URL") {
		t.Errorf("config.json: %s", cfg)
	}
	// The restarted service started (again) after the change.
	waitFile(t, w.HostPath(envFile))
	if env, _ := os.ReadFile(w.HostPath(envFile)); strings.Contains(string(env), want) {
		t.Log("the SCM passed the Environment value to the restarted service")
	} else {
		t.Log("Wine's SCM does not pass a service's Environment value to the process (Windows does); the registry value is checked above")
	}
	stdout, _, code = w.Run(t, exe, "proxy", "show")
	if code != 0 || !strings.Contains(stdout, value) || strings.Contains(stdout, secret) || !strings.Contains(stdout, "service environment") {
		t.Errorf("proxy show: exit %d\n%s", code, stdout)
	}
	stdout, stderr, code = w.Run(t, exe, "proxy", "clear")
	if code != 0 {
		t.Fatalf("proxy clear: exit %d\n%s%s", code, stdout, stderr)
	}
	if reg, _, _ := w.Run(t, probe, "regmulti", `SYSTEM\CurrentControlSet\Services\Auth0 ADLDAP`, "Environment"); strings.TrimSpace(reg) != "(missing)" {
		t.Errorf("Environment after proxy clear:\n%s", reg)
	}
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s not written by the service within 20 s", path)
}
