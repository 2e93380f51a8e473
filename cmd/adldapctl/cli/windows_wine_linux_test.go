//go:build linux

package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/internal/certs"
	"github.com/adldapctl/adldapctl/internal/certs/certstest"
	"github.com/adldapctl/adldapctl/internal/testbed"
	"github.com/adldapctl/adldapctl/internal/testfeed"
)

// wineTools builds adldapctl.exe and the Windows test programs: the probe
// (internal/testbed/winprobe) that reads the stores and the registry from
// a process of its own, and the node.exe stand-in.
func wineTools(t *testing.T) (w *testbed.Wine, exe string, progs testfeed.WindowsPrograms) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no Wine")
	}
	w = testbed.StartWine(t)
	exe = filepath.Join(t.TempDir(), "adldapctl.exe")
	testbed.BuildTool(t, exe, testbed.BuildOptions{GOOS: "windows", GOARCH: "amd64"})
	progs, err := testfeed.BuildWindowsPrograms()
	if err != nil {
		t.Fatal(err)
	}
	return w, exe, progs
}

// storeCount counts fingerprint fp in the LocalMachine store (Root or
// CA) as the probe lists it.
func storeCount(t *testing.T, w *testbed.Wine, probe, store, fp string) int {
	t.Helper()
	out, stderr, code := w.Run(t, probe, "certs", store)
	if code != 0 {
		t.Fatalf("winprobe certs %s: exit %d: %s", store, code, stderr)
	}
	var list []struct {
		SHA256 string `json:"sha256"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("winprobe certs %s: %v\n%s", store, err, out)
	}
	n := 0
	for _, c := range list {
		if strings.EqualFold(c.SHA256, fp) {
			n++
		}
	}
	return n
}

// TestWindowsUnderWine runs the Windows adldapctl.exe in one Wine prefix
// (one build of it and of the probe).
func TestWindowsUnderWine(t *testing.T) {
	w, exe, progs := wineTools(t)
	t.Run("certs", func(t *testing.T) { testWindowsCerts(t, w, exe, progs.Probe) })
	t.Run("proxy", func(t *testing.T) { testWindowsProxy(t, w, exe, progs) })
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
// restarts the service, which then has the proxy in its environment, and
// prints no password; clear removes ours.
func testWindowsProxy(t *testing.T, w *testbed.Wine, exe string, progs testfeed.WindowsPrograms) {
	inst := `C:\Program Files (x86)\Auth0\AD LDAP Connector`
	// The sample connector's files and the node.exe stand-in, registered
	// directly as the service (no nssm): the Environment value is used.
	files, err := testfeed.MSIFiles(testfeed.MSIOptions{Version: "6.4.1"})
	if err != nil {
		t.Fatal(err)
	}
	node, err := os.ReadFile(progs.Node)
	if err != nil {
		t.Fatal(err)
	}
	files["node.exe"] = node
	port := freePort(t)
	files["config.json"] = []byte(fmt.Sprintf("{\"LDAP_URL\": \"ldap://127.0.0.1:389\", \"PORT\": %d}\n", port))
	for name, data := range files {
		p := w.HostPath(inst + `\` + strings.ReplaceAll(name, "/", `\`))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := `"` + inst + `\node.exe" --service "Auth0 ADLDAP" "` + inst + `\server.js"`
	if out, stderr, code := w.Run(t, "sc", "create", "Auth0 ADLDAP", "binpath=", bin, "start=", "auto"); code != 0 {
		t.Fatalf("sc create: exit %d\n%s%s", code, out, stderr)
	}
	if out, stderr, code := w.Run(t, "sc", "start", "Auth0 ADLDAP"); code != 0 {
		t.Fatalf("sc start: exit %d\n%s%s", code, out, stderr)
	}
	t.Cleanup(func() { w.Run(t, "sc", "stop", "Auth0 ADLDAP") })
	if a := waitAnswer(t, port, func(a nodeAnswer) bool { return a.PID != 0 }); a.ProxyEnv {
		t.Fatalf("the service has a proxy before proxy set: %+v", a)
	}

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
	key := `HKLM\SYSTEM\CurrentControlSet\Services\Auth0 ADLDAP`
	if !strings.Contains(stdout, key+`\Environment`) || !strings.Contains(stdout, "restarted") {
		t.Errorf("proxy set output does not name %s\\Environment or the restart", key)
	}
	reg, _, _ := w.Run(t, progs.Probe, "reg", "get", key, "Environment")
	want := "HTTP_PROXY=http://fleet:" + secret + "@127.0.0.1:3128"
	if !strings.Contains(reg, want+"\n") || !strings.Contains(reg, "HTTPS_PROXY=") {
		t.Errorf("service Environment as another process reads it:\n%s", strings.ReplaceAll(reg, secret, "***"))
	}
	cfg, _ := os.ReadFile(w.HostPath(inst + `\config.json`))
	if !strings.Contains(string(cfg), `"HTTP_PROXY"`) || !strings.Contains(string(cfg), "LDAP_URL") {
		t.Errorf("config.json: %s", cfg)
	}
	// The restarted service has the proxy in its environment (the
	// stand-in applies the Environment value itself: Wine's SCM does not).
	waitAnswer(t, port, func(a nodeAnswer) bool { return a.ProxyEnv })
	stdout, _, code = w.Run(t, exe, "proxy", "show")
	if code != 0 || !strings.Contains(stdout, key+`\Environment`) || strings.Contains(stdout, secret) || !strings.Contains(stdout, "service environment") {
		t.Errorf("proxy show: exit %d\n%s", code, stdout)
	}
	stdout, stderr, code = w.Run(t, exe, "proxy", "clear")
	if code != 0 {
		t.Fatalf("proxy clear: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, _, code := w.Run(t, progs.Probe, "reg", "get", key, "Environment"); code != 3 {
		t.Errorf("Environment after proxy clear: probe exit %d, want 3 (no such value)", code)
	}
	waitAnswer(t, port, func(a nodeAnswer) bool { return !a.ProxyEnv })
}

// nodeAnswer is what the node.exe stand-in answers on GET /.
type nodeAnswer struct {
	Version  string `json:"version"`
	ProxyEnv bool   `json:"proxy_env"`
	PID      int    `json:"pid"`
}

// waitAnswer asks the stand-in on port until ok holds (20 s at most).
func waitAnswer(t *testing.T, port int, ok func(nodeAnswer) bool) nodeAnswer {
	t.Helper()
	c := http.Client{Timeout: 2 * time.Second}
	var a nodeAnswer
	var last string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			a = nodeAnswer{}
			if json.Unmarshal(b, &a) == nil && ok(a) {
				return a
			}
			last = string(b)
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the service on port %d never answered as expected; last: %s", port, last)
	return a
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
