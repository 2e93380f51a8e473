package testfeed

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/internal/testbed"
	"github.com/adldapctl/adldapctl/updater"
)

// wineBed is a Wine prefix with the probe at hand.
type wineBed struct {
	t     *testing.T
	w     *testbed.Wine
	probe string
	logs  string // host folder for msiexec logs
}

func startWineBed(t *testing.T) *wineBed {
	t.Helper()
	if _, err := os.Stat("/usr/bin/wixl"); err != nil {
		testbed.Missing(t, "wixl (scripts/deps.sh installs it)")
	}
	progs, err := BuildWindowsPrograms()
	if err != nil {
		t.Fatal(err)
	}
	return &wineBed{t: t, w: testbed.StartWine(t), probe: progs.Probe, logs: t.TempDir()}
}

// msiexec runs msiexec with args and a verbose log; when its exit code is
// not want, the test fails with the log's tail. Seen from the host, a
// Windows exit code is cut to its low 8 bits (1603 arrives as 67), so the
// codes are compared that way; a Windows program (adldapctl.exe) that runs
// msiexec itself sees the whole code.
func (b *wineBed) msiexec(want int, args ...string) {
	b.t.Helper()
	log := filepath.Join(b.logs, fmt.Sprintf("msiexec-%d.log", time.Now().UnixNano()))
	args = append(args, "/qn", "/norestart", "/l*v", b.w.WinPath(log))
	start := time.Now()
	_, stderr, code := b.w.Run(b.t, "msiexec", args...)
	b.t.Logf("msiexec %s: exit %d in %v", strings.Join(args[:2], " "), code, time.Since(start).Round(time.Millisecond))
	if code != want&0xff {
		tail, err := MSILog(log, 6000)
		if err != nil {
			tail = err.Error()
		}
		b.t.Fatalf("msiexec %s: exit %d, want %d; stderr %q\nlog tail:\n%s", strings.Join(args, " "), code, want, stderr, tail)
	}
}

// run runs a Wine command (sc, reg) that must succeed.
func (b *wineBed) run(exe string, args ...string) string {
	b.t.Helper()
	out, stderr, code := b.w.Run(b.t, exe, args...)
	if code != 0 {
		b.t.Fatalf("%s %s: exit %d: %s%s", exe, strings.Join(args, " "), code, out, stderr)
	}
	return out
}

// probeJSON runs the probe and decodes its JSON output.
func (b *wineBed) probeJSON(v any, args ...string) {
	b.t.Helper()
	for try := 1; ; try++ {
		out, stderr, code := b.w.Run(b.t, b.probe, args...)
		if code != 0 {
			b.t.Fatalf("winprobe %s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
		err := json.Unmarshal([]byte(out), v)
		if err == nil {
			return
		}
		// Seen once: exit 0 and no output at all, right after an msiexec.
		if out != "" || try == 2 {
			b.t.Fatalf("winprobe %s: %v\n%q (stderr %q)", strings.Join(args, " "), err, out, stderr)
		}
		b.t.Logf("winprobe %s: exit 0 but no output (stderr %q); once more", strings.Join(args, " "), stderr)
	}
}

type probeService struct {
	Name            string `json:"name"`
	Exists          bool   `json:"exists"`
	State           string `json:"state"`
	PID             int    `json:"pid"`
	Win32ExitCode   uint32 `json:"win32_exit_code"`
	ServiceExitCode uint32 `json:"service_exit_code"`
	ImagePath       string `json:"image_path"`
	StartType       string `json:"start_type"`
}

func (b *wineBed) service(name string) probeService {
	b.t.Helper()
	var s probeService
	b.probeJSON(&s, "svc", name)
	return s
}

// waitService polls the service until it is in state (or, for "running",
// until it stopped instead); at most 20 s.
func (b *wineBed) waitService(name, state string) probeService {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := b.service(name)
		if s.State == state || !s.Exists || time.Now().After(deadline) || state == "running" && s.State == "stopped" {
			return s
		}
		time.Sleep(300 * time.Millisecond)
	}
}

type probeARP struct {
	Key             string `json:"key"`
	View            string `json:"view"`
	ProductCode     string `json:"product_code"`
	UpgradeCode     string `json:"upgrade_code"`
	DisplayName     string `json:"display_name"`
	DisplayVersion  string `json:"display_version"`
	Publisher       string `json:"publisher"`
	InstallLocation string `json:"install_location"`
}

// products returns the uninstall entries with the connector's UpgradeCode.
func (b *wineBed) products() []probeARP {
	b.t.Helper()
	var all, out []probeARP
	b.probeJSON(&all, "uninstall")
	for _, e := range all {
		if e.UpgradeCode == UpgradeCode {
			out = append(out, e)
		}
	}
	return out
}

func (b *wineBed) regGet(key, value string) (string, int) {
	b.t.Helper()
	out, _, code := b.w.Run(b.t, b.probe, "reg", "get", key, value)
	return strings.TrimRight(strings.ReplaceAll(out, "\r\n", "\n"), "\n"), code
}

// answer is the stand-in connector's GET / body.
type answer struct {
	Admin     bool     `json:"admin"`
	Version   string   `json:"version"`
	Ticket    bool     `json:"ticket"`
	ProxyEnv  bool     `json:"proxy_env"`
	ProxyVars []string `json:"proxy_vars"`
	PID       int      `json:"pid"`
}

// ask GETs http://127.0.0.1:port/, retrying for up to 10 s while the
// port is closed.
func ask(t *testing.T, port int) answer {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			var a answer
			if rerr != nil || resp.StatusCode != http.StatusOK || json.Unmarshal(body, &a) != nil {
				t.Fatalf("GET %s: %s %q %v", url, resp.Status, body, rerr)
			}
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func refused(port int) bool {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err == nil {
		resp.Body.Close()
	}
	return err != nil
}

// buildMSIs builds the MSIs of opts in dir, in parallel.
func buildMSIs(t *testing.T, dir string, opts ...MSIOptions) []string {
	t.Helper()
	out, err := buildMSIsErr(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func buildMSIsErr(dir string, opts ...MSIOptions) ([]string, error) {
	out := make([]string, len(opts))
	errs := make([]error, len(opts))
	var wg sync.WaitGroup
	for i, o := range opts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := os.MkdirTemp(dir, "msi-")
			if errs[i] = err; err == nil {
				out[i], errs[i] = BuildMSI(d, o)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// TestMSIUnderWine installs the sample MSIs with Wine's msiexec and checks,
// through the probe (a second process reading the registry and the SCM),
// what adldapctl's Windows code relies on: the nssm-hosted services and
// their Parameters, the uninstall entry, the stand-in serving its version,
// the environment reaching it through AppEnvironmentExtra, the official
// major upgrade's data loss (a customised lib\profileMapper.js replaced,
// config.json kept), the downgrade refusal, a crashing release's service
// stopping as failed, and msiexec /x removing it all.
func TestMSIUnderWine(t *testing.T) {
	start := time.Now()
	adminPort, port := freePort(t), freePort(t)
	v641, v650, v660 := MSIOptions{Version: "6.4.1", AdminPort: adminPort}, MSIOptions{Version: "6.5.0", AdminPort: adminPort},
		MSIOptions{Version: "6.6.0", AdminPort: adminPort, CrashOnStart: true}
	var msis []string
	built := make(chan struct{})
	tmp := t.TempDir()
	go func() { // while Wine starts
		defer close(built)
		msis, _ = buildMSIsErr(tmp, v641, v650, v660)
	}()
	bed := startWineBed(t)
	<-built
	if msis == nil {
		msis = buildMSIs(t, tmp, v641, v650, v660) // again, to fail with the error
	}
	t.Logf("bed and MSIs ready in %v", time.Since(start).Round(time.Millisecond))
	w := bed.w
	dir := w.HostPath(InstallDir)

	// 6.4.1 as a release asset of the feed, downloaded and verified by the
	// updater, then installed: files, services, Parameters, ARP entry; the
	// MSI starts the admin service.
	asset, err := os.ReadFile(msis[0])
	if err != nil {
		t.Fatal(err)
	}
	feedSrv := startServer(t, []ReleaseSpec{{Version: "6.4.1", Assets: []AssetSpec{{Name: MSIName("6.4.1"), Data: asset}}}})
	feed := &updater.GitHubFeed{BaseURL: feedSrv.URL}
	rel, err := feed.Release(context.Background(), "6.4.1")
	if err != nil {
		t.Fatal(err)
	}
	art, err := feed.Artifact(rel, "windows")
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&updater.Downloader{}).Fetch(context.Background(), art, t.TempDir(), updater.VerifyOptions{RequireDigest: true})
	if err != nil || res.Verified != updater.TrustDigest {
		t.Fatalf("fetch the MSI asset: %+v, %v", res, err)
	}
	bed.msiexec(0, "/i", w.WinPath(res.Path))
	for _, f := range []string{"node.exe", "nssm.exe", "server.js", "package.json", `admin\server.js`, `lib\profileMapper.js`} {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(strings.ReplaceAll(f, `\`, "/")))); err != nil {
			t.Errorf("installed files: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
		t.Error("the MSI installed a config.json")
	}
	ps := bed.products()
	if len(ps) != 1 || ps[0].ProductCode != ProductCode(v641) || ps[0].DisplayName != ProductName ||
		ps[0].DisplayVersion != "6.4.1" || ps[0].Publisher != Manufacturer || ps[0].InstallLocation != InstallDir+`\` {
		t.Fatalf("uninstall entries after installing 6.4.1: %+v", ps)
	}
	for _, name := range []string{ServiceName, AdminServiceName} {
		s := bed.service(name)
		if !s.Exists || s.StartType != "automatic" || !strings.EqualFold(strings.Trim(s.ImagePath, `"`), InstallDir+`\nssm.exe`) {
			t.Errorf("service %s: %+v", name, s)
		}
		key := `HKLM\SYSTEM\CurrentControlSet\Services\` + name + `\Parameters`
		script := `server.js`
		if name == AdminServiceName {
			script = `admin\server.js`
		}
		for value, want := range map[string]string{
			"Application":   InstallDir + `\node.exe`,
			"AppDirectory":  InstallDir + `\`,
			"AppParameters": `"` + InstallDir + `\` + script + `"`,
		} {
			if got, code := bed.regGet(key, value); code != 0 || got != want {
				t.Errorf(`%s\%s = %q (exit %d), want %q`, key, value, got, code, want)
			}
		}
	}
	if s := bed.waitService(AdminServiceName, "running"); s.State != "running" {
		t.Fatalf("admin service after install: %+v", s)
	}
	if a := ask(t, adminPort); !a.Admin || a.Version != "6.4.1" {
		t.Errorf("admin answer: %+v", a)
	}
	if s := bed.service(ServiceName); s.State != "stopped" {
		t.Errorf("the MSI started the connector service: %+v", s)
	}

	// The customer's configuration, then a start: the stand-in answers
	// with its version and sees the ticket.
	config := []byte("{\n  \"PORT\": " + fmt.Sprint(port) + ",\n  \"PROVISIONING_TICKET\": \"https://example.auth0.com/p/ad/SECRET\"\n}\n")
	if err := os.WriteFile(filepath.Join(dir, "config.json"), config, 0o644); err != nil {
		t.Fatal(err)
	}
	bed.run("sc", "start", ServiceName)
	if s := bed.waitService(ServiceName, "running"); s.State != "running" || s.PID == 0 {
		t.Fatalf("connector service after sc start: %+v", s)
	}
	a := ask(t, port)
	if a.Admin || a.Version != "6.4.1" || !a.Ticket || a.ProxyEnv {
		t.Errorf("connector answer: %+v", a)
	}

	// nssm's AppEnvironmentExtra reaches the child on the next start.
	key := `HKLM\SYSTEM\CurrentControlSet\Services\` + ServiceName + `\Parameters`
	bed.run("reg", "add", key, "/v", "AppEnvironmentExtra", "/t", "REG_MULTI_SZ", "/d", `HTTP_PROXY=http://u:p@127.0.0.1:9\0NO_PROXY=localhost`, "/f")
	if got, _ := bed.regGet(key, "AppEnvironmentExtra"); got != "HTTP_PROXY=http://u:p@127.0.0.1:9\nNO_PROXY=localhost" {
		t.Errorf("probe reg get of a REG_MULTI_SZ: %q", got)
	}
	bed.run("sc", "stop", ServiceName)
	if s := bed.waitService(ServiceName, "stopped"); s.State != "stopped" || s.Win32ExitCode != 0 {
		t.Fatalf("connector service after sc stop: %+v", s)
	}
	if !refused(port) {
		t.Fatal("the stand-in still answers after sc stop: nssm did not stop its child")
	}
	bed.run("sc", "start", ServiceName)
	bed.waitService(ServiceName, "running")
	if b := ask(t, port); !b.ProxyEnv || strings.Join(b.ProxyVars, ",") != "HTTP_PROXY,NO_PROXY" || b.PID == a.PID {
		t.Errorf("after AppEnvironmentExtra and a restart: %+v (before: pid %d)", b, a.PID)
	}

	// The official major upgrade: a customised profile mapper is replaced
	// by the stock one, config.json (never installed by the MSI) survives.
	mapper := filepath.Join(dir, "lib", "profileMapper.js")
	stock, err := os.ReadFile(mapper)
	if err != nil {
		t.Fatal(err)
	}
	custom := append([]byte("// customised by the customer\n"), stock...)
	if err := os.WriteFile(mapper, custom, 0o644); err != nil {
		t.Fatal(err)
	}
	bed.msiexec(0, "/i", w.WinPath(msis[1]))
	ps = bed.products()
	if len(ps) != 1 || ps[0].DisplayVersion != "6.5.0" || ps[0].ProductCode != ProductCode(v650) {
		t.Fatalf("uninstall entries after the upgrade to 6.5.0: %+v", ps)
	}
	if got, _ := os.ReadFile(mapper); !bytes.Equal(got, stock) {
		t.Errorf("lib\\profileMapper.js after the upgrade: %q; want the stock one (the official upgrade's data loss)", got)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "config.json")); !bytes.Equal(got, config) {
		t.Errorf("config.json after the upgrade: %q", got)
	}
	// The old product's removal deleted the services: nssm's extra
	// environment went with them, and the connector is left stopped.
	if got, code := bed.regGet(key, "AppEnvironmentExtra"); code != 3 {
		t.Errorf("AppEnvironmentExtra after the upgrade: %q (exit %d), want none", got, code)
	}
	if s := bed.service(ServiceName); !s.Exists || s.State != "stopped" {
		t.Errorf("connector service after the upgrade: %+v", s)
	}
	bed.run("sc", "start", ServiceName)
	bed.waitService(ServiceName, "running")
	if a := ask(t, port); a.Version != "6.5.0" || !a.Ticket || a.ProxyEnv {
		t.Errorf("connector answer after the upgrade: %+v", a)
	}
	if a := ask(t, adminPort); a.Version != "6.5.0" {
		t.Errorf("admin answer after the upgrade: %+v", a)
	}

	// A downgrade is refused (1603) and changes nothing.
	bed.msiexec(1603, "/i", w.WinPath(msis[0]))
	if ps := bed.products(); len(ps) != 1 || ps[0].DisplayVersion != "6.5.0" {
		t.Errorf("uninstall entries after a refused downgrade: %+v", ps)
	}

	// A release whose connector crashes on start: the service stops as
	// failed (nssm's child exited on its own).
	bed.msiexec(0, "/i", w.WinPath(msis[2]))
	bed.run("sc", "start", ServiceName)
	if s := bed.waitService(ServiceName, "running"); s.State != "stopped" || s.Win32ExitCode == 0 && s.ServiceExitCode == 0 {
		t.Errorf("crashing connector's service: %+v; want stopped with an exit code", s)
	}
	if !refused(port) {
		t.Error("the crashing release answers")
	}

	// msiexec /x by product code removes the product, its services and
	// files; config.json stays.
	bed.msiexec(0, "/x", ProductCode(v660))
	if ps := bed.products(); len(ps) != 0 {
		t.Errorf("uninstall entries after msiexec /x: %+v", ps)
	}
	for _, name := range []string{ServiceName, AdminServiceName} {
		if s := bed.service(name); s.Exists {
			t.Errorf("service %s after msiexec /x: %+v", name, s)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "server.js")); err == nil {
		t.Error("server.js left after msiexec /x")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "config.json")); !bytes.Equal(got, config) {
		t.Errorf("config.json after msiexec /x: %q", got)
	}
	t.Logf("done in %v", time.Since(start).Round(time.Millisecond))
}

// TestMSIDirectUnderWine: the Direct variant registers node.exe itself as
// the services (node.exe --service NAME), ships no nssm.exe, and the
// service's own Environment value reaches the process.
func TestMSIDirectUnderWine(t *testing.T) {
	adminPort, port := freePort(t), freePort(t)
	o := MSIOptions{Version: "6.4.1", AdminPort: adminPort, Direct: true, NoInstallLocation: true}
	var msis []string
	built := make(chan struct{})
	tmp := t.TempDir()
	go func() {
		defer close(built)
		msis, _ = buildMSIsErr(tmp, o)
	}()
	bed := startWineBed(t)
	<-built
	if msis == nil {
		msis = buildMSIs(t, tmp, o)
	}
	w := bed.w
	dir := w.HostPath(InstallDir)
	bed.msiexec(0, "/i", w.WinPath(msis[0]))
	if _, err := os.Stat(filepath.Join(dir, "nssm.exe")); err == nil {
		t.Error("the direct variant ships nssm.exe")
	}
	ps := bed.products()
	if len(ps) != 1 || ps[0].DisplayVersion != "6.4.1" || ps[0].InstallLocation != "" {
		t.Errorf("uninstall entries (NoInstallLocation, like the official MSI): %+v", ps)
	}
	for _, name := range []string{ServiceName, AdminServiceName} {
		script := InstallDir + `\server.js`
		if name == AdminServiceName {
			script = InstallDir + `\admin\server.js`
		}
		s := bed.service(name)
		if want := InstallDir + `\node.exe --service "` + name + `" "` + script + `"`; s.ImagePath != want {
			t.Errorf("service %s image path %q, want %q", name, s.ImagePath, want)
		}
		if got, code := bed.regGet(`HKLM\SYSTEM\CurrentControlSet\Services\`+name+`\Parameters`, "Application"); code != 3 {
			t.Errorf("service %s has nssm Parameters: %q (exit %d)", name, got, code)
		}
	}
	if s := bed.waitService(AdminServiceName, "running"); s.State != "running" {
		t.Fatalf("admin service after install: %+v", s)
	}
	if a := ask(t, adminPort); !a.Admin || a.Version != "6.4.1" {
		t.Errorf("admin answer: %+v", a)
	}

	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(fmt.Sprintf(`{"PORT": %d}`, port)), 0o644); err != nil {
		t.Fatal(err)
	}
	key := `HKLM\SYSTEM\CurrentControlSet\Services\` + ServiceName
	bed.run("reg", "add", key, "/v", "Environment", "/t", "REG_MULTI_SZ", "/d", `HTTPS_PROXY=http://u:p@127.0.0.1:9`, "/f")
	bed.run("sc", "start", ServiceName)
	s := bed.waitService(ServiceName, "running")
	if s.State != "running" {
		t.Fatalf("connector service: %+v", s)
	}
	a := ask(t, port)
	if a.Version != "6.4.1" || a.Ticket || a.PID != s.PID {
		t.Errorf("connector answer %+v; service %+v (the service process itself answers)", a, s)
	}
	if !a.ProxyEnv || strings.Join(a.ProxyVars, ",") != "HTTPS_PROXY" {
		t.Errorf("the service's Environment value did not reach it: %+v", a)
	}
	bed.run("sc", "stop", ServiceName)
	if s := bed.waitService(ServiceName, "stopped"); s.State != "stopped" || s.Win32ExitCode != 0 {
		t.Errorf("after sc stop: %+v", s)
	}
	if !refused(port) {
		t.Error("the service answers after sc stop")
	}
}

// TestProbeUnderWine checks the probe's answers on a fresh prefix against
// what Wine is known to hold.
func TestProbeUnderWine(t *testing.T) {
	bed := startWineBed(t)
	var root []struct {
		SHA256, SHA1, Subject, Issuer string
	}
	bed.probeJSON(&root, "certs", "Root")
	// Wine fills LocalMachine Root from the host's CA certificates.
	if len(root) == 0 {
		t.Error("certs Root: empty")
	}
	for i, c := range root {
		if len(c.SHA256) != 64 || len(c.SHA1) != 40 || c.Subject == "" || i > 0 && root[i-1].SHA256 >= c.SHA256 {
			t.Errorf("certs Root entry %d: %+v (want hex digests, a subject, sorted by sha256)", i, c)
			break
		}
	}
	var none []any
	bed.probeJSON(&none, "certs", "adldapctl-no-such-store")
	if len(none) != 0 {
		t.Errorf("a store nobody created: %v", none)
	}
	if s := bed.service("adldapctl-no-such-service"); s.Exists || s.Name != "adldapctl-no-such-service" {
		t.Errorf("svc of a missing service: %+v", s)
	}
	const cv = `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion`
	if got, code := bed.regGet(cv, "ProgramFilesDir (x86)"); code != 0 || got != `C:\Program Files (x86)` {
		t.Errorf("ProgramFilesDir (x86) = %q (exit %d)", got, code)
	}
	// The two registry views: the same key written through each.
	const k = `HKLM\SOFTWARE\adldapctl-probe-test`
	bed.run("reg", "add", k, "/v", "view", "/d", "sixty-four", "/f", "/reg:64")
	bed.run("reg", "add", k, "/v", "view", "/d", "thirty-two", "/f", "/reg:32")
	if got, code := bed.regGet(k, "view"); code != 0 || got != "sixty-four" {
		t.Errorf("64-bit view = %q (exit %d)", got, code)
	}
	out, _, code := bed.w.Run(t, bed.probe, "reg", "get", "--32", k, "view")
	if got := strings.TrimSpace(out); code != 0 || got != "thirty-two" {
		t.Errorf("32-bit view = %q (exit %d)", got, code)
	}
	if _, code := bed.regGet(cv, "adldapctl-no-such-value"); code != 3 {
		t.Errorf("reg get of a missing value: exit %d, want 3", code)
	}
	if _, code := bed.regGet(`HKLM\SOFTWARE\adldapctl-no-such-key`, "x"); code != 3 {
		t.Errorf("reg get of a missing key: exit %d, want 3", code)
	}
	if _, _, code := bed.w.Run(t, bed.probe, "frobnicate"); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
}
