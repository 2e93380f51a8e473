//go:build acceptance && linux

package acceptance

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/internal/certs"
	"github.com/adldapctl/adldapctl/internal/certs/certstest"
	"github.com/adldapctl/adldapctl/internal/testbed"
	"github.com/adldapctl/adldapctl/internal/testfeed"
)

// winInstall is where the sample MSI (like the official one) installs.
const winInstall = testfeed.InstallDir

// winCustomer are the customer's files the Windows tests customise, by
// path under winInstall.
var winCustomer = []string{`config.json`, `certs\cert.key`, `lib\profileMapper.js`}

// winBed is one Wine prefix with adldapctl.exe, the probe and a loopback
// feed serving the sample MSIs. Every output of adldapctl.exe goes through
// adl, which keeps it for the secret check.
type winBed struct {
	w           *testbed.Wine
	exe, probe  string
	feed        *testfeed.Server
	port, admin int
	mu          sync.Mutex
	outputs     []string
}

// newWinBed builds adldapctl.exe (test hooks on), the Windows test
// programs and the sample MSIs of rels while the Wine prefix starts.
func newWinBed(t *testing.T, rels []testfeed.MSIOptions) *winBed {
	t.Helper()
	if _, err := exec.LookPath("wixl"); err != nil {
		testbed.Missing(t, "wixl (scripts/deps.sh installs it)")
	}
	start := time.Now()
	b := &winBed{port: freeLoopbackPort(t), admin: freeLoopbackPort(t)}
	dir := t.TempDir()
	b.exe = filepath.Join(dir, "adldapctl.exe")
	type built struct {
		specs []testfeed.ReleaseSpec
		probe string
		err   error
	}
	msis := make(chan built, 1)
	go func() {
		var r built
		progs, err := testfeed.BuildWindowsPrograms()
		if err != nil {
			r.err = err
			msis <- r
			return
		}
		r.probe = progs.Probe
		for _, o := range rels {
			o.AdminPort = b.admin
			a, err := testfeed.MSIAsset(dir, o)
			if err != nil {
				r.err = err
				break
			}
			r.specs = append(r.specs, testfeed.ReleaseSpec{Version: o.Version, Assets: []testfeed.AssetSpec{a}})
		}
		msis <- r
	}()
	exe := make(chan error, 1)
	go func() {
		cmd := exec.Command("go", "build", "-trimpath", "-tags", "testhooks", "-o", b.exe, "github.com/adldapctl/adldapctl/cmd/adldapctl")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=windows", "GOARCH=amd64")
		out, err := cmd.CombinedOutput()
		if err != nil {
			err = fmt.Errorf("build adldapctl.exe: %v\n%s", err, out)
		}
		exe <- err
	}()
	b.w = testbed.StartWine(t)
	r := <-msis
	if err := <-exe; err != nil {
		t.Fatal(err)
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	b.probe = r.probe
	feed, err := testfeed.Start("127.0.0.1:0", r.specs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(feed.Close)
	b.feed = feed
	t.Logf("bed ready in %v (adldapctl.exe, %d MSIs, Wine prefix)", time.Since(start).Round(time.Millisecond), len(rels))
	return b
}

// adl runs adldapctl.exe --feed FEED args... under Wine and logs what it
// printed.
func (b *winBed) adl(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	start := time.Now()
	stdout, stderr, code := b.w.Run(t, b.exe, append([]string{"--feed", b.feed.URL}, args...)...)
	b.mu.Lock()
	b.outputs = append(b.outputs, stdout, stderr)
	b.mu.Unlock()
	t.Logf("adldapctl.exe %s: exit %d in %v\n--- stdout\n%s--- stderr\n%s", strings.NewReplacer(ticket, "TICKET", winProxySecret, "***").Replace(strings.Join(args, " ")), code,
		time.Since(start).Round(time.Millisecond), stdout, stderr)
	return stdout, stderr, code
}

// adlOK is adl that fails the test (with the msiexec log tail) on a
// non-zero exit.
func (b *winBed) adlOK(t *testing.T, args ...string) string {
	t.Helper()
	stdout, _, code := b.adl(t, args...)
	if code != 0 {
		b.diagnose(t)
		t.Fatalf("adldapctl.exe %s: exit %d", strings.Join(args, " "), code)
	}
	return stdout
}

// diagnose logs the tail of the newest msiexec log adldapctl kept.
func (b *winBed) diagnose(t *testing.T) {
	t.Helper()
	logs, _ := filepath.Glob(b.w.HostPath(`C:\ProgramData\adldapctl\logs\*`))
	sort.Slice(logs, func(i, j int) bool { return modTime(logs[i]).After(modTime(logs[j])) })
	if len(logs) == 0 {
		t.Log("no msiexec log under C:\\ProgramData\\adldapctl\\logs")
		return
	}
	text, err := testfeed.MSILog(logs[0], 6000)
	t.Logf("tail of %s (%v):\n%s", filepath.Base(logs[0]), err, text)
}

func modTime(p string) time.Time {
	st, err := os.Stat(p)
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}

// probeRun runs the probe (a second process reading the Windows state).
func (b *winBed) probeRun(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, code := b.w.Run(t, b.probe, args...)
	if code != 0 {
		t.Fatalf("winprobe %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
	return stdout
}

type winService struct {
	Exists    bool   `json:"exists"`
	State     string `json:"state"`
	PID       uint32 `json:"pid"`
	ImagePath string `json:"image_path"`
}

func (b *winBed) service(t *testing.T, name string) winService {
	t.Helper()
	var s winService
	if err := json.Unmarshal([]byte(b.probeRun(t, "svc", name)), &s); err != nil {
		t.Fatalf("winprobe svc %s: %v", name, err)
	}
	return s
}

type arpEntry struct {
	ProductCode     string `json:"product_code"`
	UpgradeCode     string `json:"upgrade_code"`
	DisplayName     string `json:"display_name"`
	DisplayVersion  string `json:"display_version"`
	InstallLocation string `json:"install_location"`
}

// connectorEntries are the uninstall entries of the connector's product.
func (b *winBed) connectorEntries(t *testing.T) []arpEntry {
	t.Helper()
	var all, out []arpEntry
	if err := json.Unmarshal([]byte(b.probeRun(t, "uninstall")), &all); err != nil {
		t.Fatalf("winprobe uninstall: %v", err)
	}
	for _, e := range all {
		if e.DisplayName == testfeed.ProductName || strings.EqualFold(e.UpgradeCode, testfeed.UpgradeCode) {
			out = append(out, e)
		}
	}
	return out
}

// storeHas counts the certificates of fingerprint fp in the LocalMachine
// store, as the probe enumerates it.
func (b *winBed) storeHas(t *testing.T, store, fp string) int {
	t.Helper()
	var list []struct {
		SHA256 string `json:"sha256"`
	}
	if err := json.Unmarshal([]byte(b.probeRun(t, "certs", store)), &list); err != nil {
		t.Fatalf("winprobe certs %s: %v", store, err)
	}
	n := 0
	for _, c := range list {
		if strings.EqualFold(c.SHA256, fp) {
			n++
		}
	}
	return n
}

// installed asserts one whole version is installed: one uninstall entry
// of version v, the files of v (package.json), the install record, and
// the connector service running and answering v.
func (b *winBed) installed(t *testing.T, v string) {
	t.Helper()
	entries := b.connectorEntries(t)
	if len(entries) != 1 || entries[0].DisplayVersion != v {
		t.Errorf("uninstall entries of the connector: %+v, want one of %s", entries, v)
	}
	pkg, err := os.ReadFile(b.w.HostPath(winInstall + `\package.json`))
	if err != nil || !strings.Contains(string(pkg), `"version": "`+v+`"`) {
		t.Errorf("package.json on drive_c (%v):\n%s\nwant version %s", err, pkg, v)
	}
	rec, err := os.ReadFile(b.w.HostPath(`C:\ProgramData\adldapctl\install.json`))
	var r struct {
		Version string `json:"version"`
	}
	if err == nil {
		err = json.Unmarshal(rec, &r)
	}
	if err != nil || r.Version != v {
		t.Errorf("install record (%v):\n%s\nwant version %s", err, rec, v)
	}
	s := b.service(t, testfeed.ServiceName)
	if s.State != "running" || s.PID == 0 || !strings.Contains(strings.ToLower(s.ImagePath), strings.ToLower(winInstall)) {
		t.Errorf("service %s as the SCM reports it: %+v", testfeed.ServiceName, s)
	}
	waitVersion(t, b.port, v)
}

// customerFiles reads the customer's files from drive_c.
func (b *winBed) customerFiles(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, rel := range winCustomer {
		data, err := os.ReadFile(b.w.HostPath(winInstall + `\` + rel))
		if err != nil {
			m[rel] = "<missing: " + err.Error() + ">"
			continue
		}
		m[rel] = string(data)
	}
	return m
}

func (b *winBed) write(t *testing.T, winPath, data string) {
	t.Helper()
	p := b.w.HostPath(winPath)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// answer is what the stand-in connector serves on GET /.
type answer struct {
	Version   string   `json:"version"`
	Ticket    bool     `json:"ticket"`
	ProxyEnv  bool     `json:"proxy_env"`
	ProxyVars []string `json:"proxy_vars"`
	PID       int      `json:"pid"`
}

func getAnswer(port int) (answer, error) {
	var a answer
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		return a, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	err = json.Unmarshal(body, &a)
	return a, err
}

const (
	winProxySecret = "Wine5ecretPw"
	winMapper      = "// customised by the customer\nmodule.exports = function (u) { return { customised: true, id: u && u.id }; };\n"
	winKey         = "-----BEGIN PRIVATE KEY-----\nwine fixture\n-----END PRIVATE KEY-----\n"
)

// TestWindowsMSIUnderWine is issue 10's acceptance, end to end: the
// Windows adldapctl.exe under Wine against a loopback feed of sample
// connector MSIs (6.4.1, 6.5.0, and 6.6.0 whose service exits at start),
// with real msiexec, the real service control manager, registry and
// certificate stores, every result read back by a second process (the
// probe) or from drive_c.
func TestWindowsMSIUnderWine(t *testing.T) {
	start := time.Now()
	b := newWinBed(t, []testfeed.MSIOptions{{Version: "6.4.1"}, {Version: "6.5.0"}, {Version: "6.6.0", CrashOnStart: true}})
	defer func() { t.Logf("TestWindowsMSIUnderWine: %v in all", time.Since(start).Round(time.Second)) }()

	// Acceptance 1: install.
	b.write(t, winInstall+`\config.json`, fmt.Sprintf("{\n  \"PORT\": %d,\n  \"ADMIN_PORT\": %d\n}\n", b.port, b.admin))
	b.adlOK(t, "install", "--version", "6.4.1", "--ticket", ticket, "--health-grace", "1s")
	for _, f := range []string{`node.exe`, `nssm.exe`, `server.js`, `package.json`, `lib\profileMapper.js`, `admin\server.js`} {
		if _, err := os.Stat(b.w.HostPath(winInstall + `\` + f)); err != nil {
			t.Errorf("after install: %v", err)
		}
	}
	b.installed(t, "6.4.1")
	if s := b.service(t, testfeed.AdminServiceName); !s.Exists {
		t.Errorf("service %s missing after install", testfeed.AdminServiceName)
	}

	// Acceptance 2: the chain's root in LocalMachine Root and its
	// intermediate in CA, once after two imports; certs remove.
	ch := certstest.NewChain(t, "Wine MSI")
	rootFP, interFP := certs.Fingerprint(ch.Root), certs.Fingerprint(ch.Inter)
	chain := filepath.Join(t.TempDir(), "chain.pem")
	if err := os.WriteFile(chain, certstest.PEM(ch.Leaf, ch.Inter, ch.Root), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		b.adlOK(t, "certs", "import", b.w.WinPath(chain), "--yes")
	}
	if n, m := b.storeHas(t, "Root", rootFP), b.storeHas(t, "CA", interFP); n != 1 || m != 1 {
		t.Errorf("after two imports: root %d times in Root, intermediate %d times in CA; want 1 and 1", n, m)
	}
	if b.storeHas(t, "Root", interFP)+b.storeHas(t, "CA", rootFP) != 0 {
		t.Error("a certificate of the chain landed in the wrong store")
	}
	// Removing the root takes out what the same import added (the
	// intermediate too).
	b.adlOK(t, "certs", "remove", rootFP)
	if n := b.storeHas(t, "Root", rootFP) + b.storeHas(t, "CA", interFP); n != 0 {
		t.Errorf("after certs remove the chain is still in the stores (%d)", n)
	}

	// Acceptance 3: proxy set writes config.json and nssm's
	// AppEnvironmentExtra, restarts the service (a new process that sees
	// the proxy), and never prints the password.
	before := b.service(t, testfeed.ServiceName)
	// A real proxy (squid, Basic auth): adldapctl then downloads the
	// updates through it, as the connector's proxy.
	squid := testbed.StartSquidProxy(t, "fleet", winProxySecret)
	proxyURL := squid.URL
	b.adlOK(t, "proxy", "set", proxyURL)
	cfg, err := os.ReadFile(b.w.HostPath(winInstall + `\config.json`))
	if err != nil || !strings.Contains(string(cfg), `"HTTP_PROXY"`) || !strings.Contains(string(cfg), `"PROVISIONING_TICKET"`) {
		t.Errorf("config.json after proxy set:\n%s", cfg)
	}
	b.proxyInEffect(t, "after proxy set", proxyURL, "6.4.1")
	after := b.service(t, testfeed.ServiceName)
	if after.State != "running" || after.PID == before.PID {
		t.Errorf("service not restarted by proxy set: before %+v, after %+v", before, after)
	}

	// The customer's files, customised.
	b.write(t, winInstall+`\lib\profileMapper.js`, winMapper)
	b.write(t, winInstall+`\certs\cert.key`, winKey)
	b.write(t, winInstall+`\config.json`, strings.Replace(string(cfg), "{\n", "{\n  \"CUSTOMISED\": \"yes, by hand\",\n", 1))
	want := b.customerFiles(t)

	// Acceptance 1: update keeping the customer's files (and the proxy:
	// msiexec recreates the services and nssm's keys), then a release whose
	// service fails to start, rolled back.
	b.adlOK(t, "update", "--version", "6.5.0", "--health-grace", "1s")
	b.installed(t, "6.5.0")
	b.proxyInEffect(t, "after the update to 6.5.0", proxyURL, "6.5.0")
	sameFiles(t, "after update to 6.5.0", want, b.customerFiles(t))
	if log, _ := os.ReadFile(squid.AccessLog); !strings.Contains(string(log), testfeed.MSIName("6.5.0")) {
		t.Errorf("the MSI was not downloaded through the connector's proxy; squid's access log:\n%s", log)
	}

	if _, _, code := b.adl(t, "update", "--version", "6.6.0", "--health-grace", "2s"); code != 1 {
		b.diagnose(t)
		t.Errorf("update to 6.6.0 (crashes on start): exit %d, want 1", code)
	}
	b.installed(t, "6.5.0")
	b.proxyInEffect(t, "after the rollback from 6.6.0", proxyURL, "6.5.0")
	sameFiles(t, "after the failed update to 6.6.0", want, b.customerFiles(t))
	if t.Failed() {
		t.FailNow()
	}

	// Acceptance 5: status, verify and export on Windows, with Windows
	// paths.
	stdout := b.adlOK(t, "--json", "status")
	var st map[string]any
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Errorf("status --json is not JSON: %v", err)
	}
	if !strings.Contains(stdout, jsonEscaped(winInstall)) || !strings.Contains(stdout, "6.5.0") {
		t.Errorf("status --json names neither %s nor 6.5.0", winInstall)
	}
	stdout, _, code := b.adl(t, "--json", "verify")
	var vr struct {
		Checks []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(stdout), &vr); err != nil || len(vr.Checks) == 0 {
		t.Errorf("verify --json (exit %d): %v", code, err)
	}
	if !strings.Contains(stdout, jsonEscaped(winInstall)) {
		t.Errorf("verify --json does not report %s", winInstall)
	}
	ids := map[string]string{}
	for _, c := range vr.Checks {
		ids[c.ID] = c.Status
	}
	for _, id := range []string{"install.files", "service.running"} {
		if ids[id] != "pass" {
			t.Errorf("verify check %s: %q, want pass", id, ids[id])
		}
	}
	zipPath := filepath.Join(t.TempDir(), "support.zip")
	b.adlOK(t, "export", "--output", b.w.WinPath(zipPath))
	checkExport(t, zipPath)

	// Acceptance 4: adldapctl.exe killed while msiexec runs (a rollback
	// to 6.4.1, which removes 6.5.0 first), then any command: one whole
	// version, the customer's files intact.
	b.killDuringMSI(t, "rollback", "--health-grace", "1s")
	stdout = b.adlOK(t, "status")
	var v string
	for _, c := range []string{"6.4.1", "6.5.0"} {
		if entries := b.connectorEntries(t); len(entries) == 1 && entries[0].DisplayVersion == c {
			v = c
		}
	}
	if v == "" {
		t.Fatalf("after the kill and status: uninstall entries %+v, want one of 6.4.1 or 6.5.0\n%s", b.connectorEntries(t), stdout)
	}
	t.Logf("after the kill during msiexec, status left %s installed", v)
	b.installed(t, v)
	// msiexec deleted and recreated the services, nssm's Parameters key
	// with them: the proxy of config.json is put back.
	b.proxyInEffect(t, "after the recovery", proxyURL, v)
	wantNow := b.customerFiles(t) // config.json now has the proxy
	if wantNow[`lib\profileMapper.js`] != winMapper || wantNow[`certs\cert.key`] != winKey || !strings.Contains(wantNow["config.json"], "CUSTOMISED") {
		t.Errorf("customer files after the kill: %q", wantNow)
	}

	// uninstall keeps the customer's files; --purge removes them.
	b.adlOK(t, "uninstall", "--yes")
	if e := b.connectorEntries(t); len(e) != 0 {
		t.Errorf("uninstall entries after uninstall: %+v", e)
	}
	if s := b.service(t, testfeed.ServiceName); s.Exists {
		t.Errorf("service after uninstall: %+v", s)
	}
	sameFiles(t, "after uninstall", wantNow, b.customerFiles(t))
	b.adlOK(t, "uninstall", "--purge", "--yes")
	if _, err := os.Stat(b.w.HostPath(winInstall)); !os.IsNotExist(err) {
		t.Errorf("install folder after uninstall --purge: %v", err)
	}
	if left, _ := os.ReadDir(b.w.HostPath(`C:\ProgramData\adldapctl`)); len(left) > 1 || len(left) == 1 && left[0].Name() != "lock" {
		t.Errorf("C:\\ProgramData\\adldapctl after uninstall --purge holds %v, want at most the lock", left)
	}

	for _, out := range b.outputs {
		for _, s := range []string{winProxySecret, "ACCEPTANCETICKET77"} {
			if strings.Contains(out, s) {
				t.Errorf("a secret (%s...) reached adldapctl's output", s[:4])
			}
		}
	}
}

// proxyInEffect asserts the proxy is in nssm's AppEnvironmentExtra of the
// connector's service (as the probe reads the registry) and in the
// environment of the running connector, which answers version v.
func (b *winBed) proxyInEffect(t *testing.T, when, proxyURL, v string) {
	t.Helper()
	env := b.probeRun(t, "reg", "get", `HKLM\SYSTEM\CurrentControlSet\Services\`+testfeed.ServiceName+`\Parameters`, "AppEnvironmentExtra")
	if !strings.Contains(env, "HTTP_PROXY="+proxyURL+"\n") || !strings.Contains(env, "HTTPS_PROXY=") {
		t.Errorf("%s: nssm AppEnvironmentExtra as the probe reads it:\n%s", when, strings.ReplaceAll(env, winProxySecret, "***"))
	}
	var a answer
	var err error
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if a, err = getAnswer(b.port); err == nil && a.ProxyEnv && a.Version == v {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Errorf("%s: the connector answers %+v (%v), want %s with the proxy in its environment", when, a, err, v)
}

// killDuringMSI runs adldapctl.exe args... with the test hook pausing it
// once msiexec has started, then kills it (SIGKILL to its wine process)
// while msiexec runs.
func (b *winBed) killDuringMSI(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := b.w.Command(ctx, b.exe, append([]string{"--feed", b.feed.URL}, args...)...)
	cmd.Env = append(cmd.Env, "ADLDAPCTL_TEST_HOOK=msiexec:pause")
	errFile := filepath.Join(t.TempDir(), "stderr")
	f, err := os.Create(errFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, _ := os.ReadFile(errFile)
		if bytes.Contains(out, []byte("paused at msiexec")) {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("adldapctl.exe %s never reached msiexec:\n%s", strings.Join(args, " "), testbed.FilterWineNoise(string(out)))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	out, _ := os.ReadFile(errFile)
	b.mu.Lock()
	b.outputs = append(b.outputs, string(out))
	b.mu.Unlock()
	t.Logf("adldapctl.exe %s killed while msiexec ran:\n%s", strings.Join(args, " "), testbed.FilterWineNoise(string(out)))
}

// checkExport opens the support bundle: Windows paths inside, no secret.
func checkExport(t *testing.T, path string) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	defer zr.Close()
	var all strings.Builder
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(io.LimitReader(rc, 8<<20))
		rc.Close()
		all.Write(data)
		for _, s := range []string{winProxySecret, "ACCEPTANCETICKET77"} {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("export: %s holds a secret (%s...)", f.Name, s[:4])
			}
		}
	}
	if s := all.String(); !strings.Contains(s, winInstall) && !strings.Contains(s, jsonEscaped(winInstall)) {
		t.Errorf("export names no Windows path (%s) in %d files", winInstall, len(zr.File))
	}
}

// jsonEscaped is s as it appears inside a JSON string.
func jsonEscaped(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// TestWindowsMSIAdoptUnderWine is the main path of real Windows users: the
// connector installed by hand with the official MSI (plain msiexec /i, the
// service then started as the admin console does), customised, and only
// then adldapctl. status and update --check see the install; an update to
// a release whose service fails to start fetches the installed 6.4.1's MSI
// from the feed first and rolls back by reinstalling it; a later update
// goes through, writes the install record and keeps 6.4.1 for rollback.
func TestWindowsMSIAdoptUnderWine(t *testing.T) {
	start := time.Now()
	b := newWinBed(t, []testfeed.MSIOptions{{Version: "6.4.1"}, {Version: "6.5.0"}, {Version: "6.6.0", CrashOnStart: true}})
	defer func() { t.Logf("TestWindowsMSIAdoptUnderWine: %v in all", time.Since(start).Round(time.Second)) }()

	// The admin downloads adldap-v6.4.1.msi and installs it as the
	// official docs say, then configures the connector and starts it.
	name := testfeed.MSIName("6.4.1")
	msi := filepath.Join(t.TempDir(), name)
	resp, err := http.Get(b.feed.AssetURL("6.4.1", name))
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("download %s: %s, %v", name, resp.Status, err)
	}
	if err := os.WriteFile(msi, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := b.w.Run(t, "msiexec", "/i", b.w.WinPath(msi), "/qn"); code != 0 {
		t.Fatalf("msiexec /i %s /qn: exit %d\n%s", name, code, testbed.FilterWineNoise(stderr))
	}
	// The admin console writes the ticket into config.json.
	b.write(t, winInstall+`\config.json`, fmt.Sprintf("{\n  \"PORT\": %d,\n  \"ADMIN_PORT\": %d,\n  \"PROVISIONING_TICKET\": %q,\n  \"CUSTOMISED\": \"by hand\"\n}\n", b.port, b.admin, ticket))
	b.write(t, winInstall+`\lib\profileMapper.js`, winMapper)
	b.write(t, winInstall+`\certs\cert.key`, winKey)
	if s := b.service(t, testfeed.ServiceName); s.State == "running" {
		t.Logf("the MSI left %s running", testfeed.ServiceName)
	} else if _, stderr, code := b.w.Run(t, "sc", "start", testfeed.ServiceName); code != 0 {
		t.Fatalf("sc start %q: exit %d\n%s", testfeed.ServiceName, code, testbed.FilterWineNoise(stderr))
	}
	waitVersion(t, b.port, "6.4.1")
	want := b.customerFiles(t)
	b.feed.ResetCounters()
	record := b.w.HostPath(`C:\ProgramData\adldapctl\install.json`)
	keptOld := b.w.HostPath(`C:\ProgramData\adldapctl\cache\msi\` + name)

	// status and update --check see the install adldapctl did not make.
	var st struct {
		Installed  bool   `json:"installed"`
		Version    string `json:"version"`
		Previous   string `json:"previous_version"`
		LastResult string `json:"last_result"`
		Product    *struct {
			DisplayVersion string `json:"display_version"`
		} `json:"product"`
	}
	if err := json.Unmarshal([]byte(b.adlOK(t, "--json", "status")), &st); err != nil {
		t.Fatalf("status --json: %v", err)
	}
	if !st.Installed || st.Version != "6.4.1" || st.Product == nil || st.Product.DisplayVersion != "6.4.1" || !strings.Contains(st.LastResult, "without adldapctl") {
		t.Errorf("status of the MSI-installed 6.4.1: %+v", st)
	}
	stdout, _, code := b.adl(t, "--json", "update", "--check")
	var ck struct {
		Installed       string `json:"installed"`
		UpdateAvailable bool   `json:"update_available"`
	}
	if err := json.Unmarshal([]byte(stdout), &ck); err != nil || code != 10 || ck.Installed != "6.4.1" || !ck.UpdateAvailable {
		t.Errorf("update --check: exit %d, %+v, %v; want exit 10 from 6.4.1", code, ck, err)
	}

	// An update to 6.6.0, whose service fails to start: 6.4.1's MSI is
	// fetched and kept first, and reinstalled by the rollback.
	_, stderr, code := b.adl(t, "update", "--version", "6.6.0", "--health-grace", "2s")
	if code != 1 || !strings.Contains(stderr, "rolled back to 6.4.1") {
		b.diagnose(t)
		t.Errorf("update to 6.6.0 (crashes on start): exit %d, want 1 and a rollback to 6.4.1", code)
	}
	if n := b.feed.Requests(b.feed.AssetURL("6.4.1", name)); n != 1 {
		t.Errorf("the installed 6.4.1's MSI was downloaded %d times, want once", n)
	}
	if entries := b.connectorEntries(t); len(entries) != 1 || entries[0].DisplayVersion != "6.4.1" {
		t.Errorf("uninstall entries after the rollback: %+v, want one of 6.4.1", entries)
	}
	if s := b.service(t, testfeed.ServiceName); s.State != "running" {
		t.Errorf("service after the rollback: %+v", s)
	}
	waitVersion(t, b.port, "6.4.1")
	sameFiles(t, "after the rollback to the fetched 6.4.1", want, b.customerFiles(t))
	if got, err := os.ReadFile(keptOld); err != nil || !bytes.Equal(got, data) {
		t.Errorf("kept MSI of 6.4.1 (%v): not the feed's package byte for byte", err)
	}
	if _, err := os.Stat(record); !os.IsNotExist(err) {
		t.Errorf("a failed update of the adopted install wrote %s (%v)", record, err)
	}

	// update to 6.5.0 uses the kept 6.4.1 (no second download), writes
	// the record and keeps 6.4.1 for rollback.
	b.adlOK(t, "update", "--version", "6.5.0", "--health-grace", "1s")
	b.installed(t, "6.5.0")
	sameFiles(t, "after the update to 6.5.0", want, b.customerFiles(t))
	if n := b.feed.Requests(b.feed.AssetURL("6.4.1", name)); n != 1 {
		t.Errorf("6.4.1's MSI downloaded %d times in all, want once", n)
	}
	st.Product, st.LastResult = nil, ""
	if err := json.Unmarshal([]byte(b.adlOK(t, "--json", "status")), &st); err != nil || st.Version != "6.5.0" || st.Previous != "6.4.1" || strings.Contains(st.LastResult, "without adldapctl") {
		t.Errorf("status after the update: %+v (%v); want 6.5.0 recorded, 6.4.1 kept for rollback", st, err)
	}
	for _, out := range b.outputs {
		if strings.Contains(out, ticket) {
			t.Error("the provisioning ticket reached adldapctl's output")
		}
	}
}
