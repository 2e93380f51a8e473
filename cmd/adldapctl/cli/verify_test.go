package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/internal/testfeed"
	"github.com/adldapctl/adldapctl/platform"
	"github.com/adldapctl/adldapctl/postinstall"
)

// specReport mirrors SPEC's verify JSON shape exactly:
// {"checks":[{"id","status","title","diagnosis","remediation","detail","duration_ms"}],"summary":{"pass","warn","fail","skip"}}
type specReport struct {
	Checks []struct {
		ID          string         `json:"id"`
		Status      string         `json:"status"`
		Title       string         `json:"title"`
		Diagnosis   string         `json:"diagnosis"`
		Remediation string         `json:"remediation"`
		Detail      map[string]any `json:"detail"`
		DurationMS  *int64         `json:"duration_ms"`
	} `json:"checks"`
	Summary struct {
		Pass *int `json:"pass"`
		Warn *int `json:"warn"`
		Fail *int `json:"fail"`
		Skip *int `json:"skip"`
	} `json:"summary"`
}

// verifyRoot lays out an installed connector under a temp --root.
func verifyRoot(t *testing.T, configMode os.FileMode) string {
	t.Helper()
	root := t.TempDir()
	p, err := platform.Detect(root)
	if err != nil {
		t.Fatal(err)
	}
	dir := p.Paths.InstallDir
	for _, d := range []string{filepath.Join(dir, "certs"), p.Paths.StateDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		filepath.Join(dir, "server.js"):    "// server\n",
		filepath.Join(dir, "package.json"): `{"name":"ad-ldap-connector","version":"0.0.0"}`,
		p.Paths.ConfigFile: `{"PROVISIONING_TICKET": "https://tenant.example.com/p/ad/VerifyTicketSecret1",
 "LDAP_URL": "ldap://dc1.corp.example", "LDAP_BASE": "dc=corp", "LDAP_BIND_USER": "svc",
 "LDAP_BIND_CREDENTIALS": "VerifyCredsSecret2", "PORT": 4000}`,
	}
	for f, body := range files {
		if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(p.Paths.ConfigFile, configMode); err != nil {
		t.Fatal(err)
	}
	rec := &connector.InstallRecord{Version: "6.4.1", InstalledAt: time.Now()}
	b, err := rec.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.Paths.StateDir, connector.RecordFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// local is --only for the checks that need no network.
var local = "--only=" + strings.Join(localCheckIDs(), ",")

func TestVerifyJSONShape(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode os.FileMode
		code int
	}{{"private config", 0o600, 0}, {"config readable by others", 0o644, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			root := verifyRoot(t, tc.mode)
			r := run(t, "verify", "--json", "--root", root, "--feed", filepath.Join(root, "no-feed"), local, "--timeout", "3s")
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", r.code, tc.code, r.stdout, r.stderr)
			}
			dec := json.NewDecoder(strings.NewReader(r.stdout))
			dec.DisallowUnknownFields()
			var rep specReport
			if err := dec.Decode(&rep); err != nil {
				t.Fatalf("not SPEC's shape: %v\n%s", err, r.stdout)
			}
			if dec.More() {
				t.Fatal("more than one JSON value on stdout")
			}
			known := map[string]bool{}
			for _, c := range postinstall.Catalogue() {
				known[c.ID()] = true
			}
			counts := map[string]int{}
			for _, c := range rep.Checks {
				if !known[c.ID] {
					t.Errorf("unknown id %q", c.ID)
				}
				switch c.Status {
				case "pass", "warn", "fail", "skip":
				default:
					t.Errorf("%s: status %q", c.ID, c.Status)
				}
				if c.Title == "" || c.Diagnosis == "" || c.Detail == nil || c.DurationMS == nil {
					t.Errorf("%s: missing title, diagnosis, detail or duration_ms: %+v", c.ID, c)
				}
				if c.Status != "pass" && c.Status != "skip" && c.Remediation == "" {
					t.Errorf("%s: %s without remediation", c.ID, c.Status)
				}
				counts[c.Status]++
			}
			s := rep.Summary
			if s.Pass == nil || s.Warn == nil || s.Fail == nil || s.Skip == nil {
				t.Fatalf("summary incomplete: %s", r.stdout)
			}
			if *s.Pass != counts["pass"] || *s.Warn != counts["warn"] || *s.Fail != counts["fail"] || *s.Skip != counts["skip"] {
				t.Errorf("summary %d/%d/%d/%d, counted %v", *s.Pass, *s.Warn, *s.Fail, *s.Skip, counts)
			}
			if len(rep.Checks) != len(localCheckIDs()) {
				t.Errorf("%d checks, want %d", len(rep.Checks), len(localCheckIDs()))
			}
			if strings.Contains(r.stdout+r.stderr, "VerifyTicketSecret1") || strings.Contains(r.stdout+r.stderr, "VerifyCredsSecret2") {
				t.Error("the ticket leaked")
			}
		})
	}
}

func TestVerifyHumanAndFlags(t *testing.T) {
	root := verifyRoot(t, 0o644)
	r := run(t, "verify", "--root", root, "--feed", filepath.Join(root, "no-feed"), local)
	if r.code != ExitFailed {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"✗ config.perms", "fix: chmod 600", "failed"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("no %q in\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "\x1b[") {
		t.Error("colour without a terminal")
	}
	r = run(t, "verify", "--root", root, "--only", "config.valid,install.files")
	if r.code != 0 || strings.Contains(r.stdout, "config.perms") {
		t.Errorf("--only: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, "verify", "--root", root, "--feed", filepath.Join(root, "no-feed"), local, "--skip", "config.perms")
	if r.code != 0 {
		t.Errorf("--skip config.perms: exit %d\n%s", r.code, r.stdout)
	}
	for _, args := range [][]string{{"--only", "no.such"}, {"--skip", "nope"}, {"--timeout", "0s"}} {
		r = run(t, append([]string{"verify", "--root", root}, args...)...)
		if r.code != ExitUsage {
			t.Errorf("verify %v: exit %d, want 2", args, r.code)
		}
	}
	r = run(t, "verify", "--json", "--root", root, "--only", "no.such")
	var e jsonError
	if r.code != ExitUsage || json.Unmarshal([]byte(r.stdout), &e) != nil || e.Error.Code != ExitUsage {
		t.Errorf("--json usage error: %d %q", r.code, r.stdout)
	}
}

func TestExportCommand(t *testing.T) {
	root := verifyRoot(t, 0o600)
	out := filepath.Join(t.TempDir(), "b.zip")
	r := run(t, "export", "--root", root, "--feed", filepath.Join(root, "no-feed"), "-o", out, "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	var res exportJSON
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.Path != out || res.Bytes == 0 {
		t.Fatalf("%q: %v", r.stdout, err)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 || int64(len(raw)) != res.Bytes {
		t.Errorf("mode %v size %d/%d", fi.Mode().Perm(), len(raw), res.Bytes)
	}
	if bytes.Contains(raw, []byte("VerifyTicketSecret1")) {
		t.Error("ticket in the zip")
	}
	link := filepath.Join(t.TempDir(), "l.zip")
	if err := os.Symlink(out, link); err != nil {
		t.Fatal(err)
	}
	if r := run(t, "export", "--root", root, "-o", link); r.code == 0 {
		t.Error("export wrote through a link")
	}
}

// TestVerifyHealthGate: the update's health gate probe fails when a
// connector-independent check fails after the switch, naming it.
func TestVerifyHealthGate(t *testing.T) {
	root := verifyRoot(t, 0o600)
	p, err := platform.Detect(root)
	if err != nil {
		t.Fatal(err)
	}
	// No PORT: the default probe has nothing to ask, so the checks decide.
	if err := os.WriteFile(p.Paths.ConfigFile, []byte(`{"PROVISIONING_TICKET": "https://tenant.example.com/p/ad/GateTicket1"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(p.Paths.InstallDir, "server.js")); err != nil {
		t.Fatal(err)
	}
	a := &app{io: &IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}, plat: p}
	in, err := a.engine(&fetchOptions{}, time.Second, true)
	if err != nil {
		t.Fatal(err)
	}
	// Under --root the gate is the default probe: nothing to probe.
	if err := in.PortProbe(t.Context()); err != nil {
		t.Fatal(err)
	}
	probe := a.gateProbe(&in)
	err = probe(t.Context())
	if err == nil || !strings.Contains(err.Error(), "install.files") || !strings.Contains(err.Error(), "server.js") {
		t.Errorf("gate: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "GateTicket1") {
		t.Error("the ticket leaked")
	}
}

// TestVerifyAfterInstall: install prints verify's summary at its end; under
// --json the report is the "verify" key of the one result object, whose
// own keys stay; a failing check does not fail the install.
func TestVerifyAfterInstall(t *testing.T) {
	requireNode(t)
	feed := startFeed(t, testfeed.ReleaseSpec{Version: "6.4.1"})
	root := t.TempDir()
	r := run(t, "--root", root, "--feed", feed.URL, "install", "--ticket", ticket)
	if r.code != 0 || !strings.Contains(r.stdout, "verify: ") {
		t.Fatalf("install: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	p, err := platform.Detect(root)
	if err != nil {
		t.Fatal(err)
	}
	// Break something verify sees and a repair leaves alone.
	if _, err := connector.EditConfig(p.Paths.ConfigFile, func(c *connector.Config) error {
		_, err := c.Set("GROUPS_CACHE_SECONDS", "ten")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	r = run(t, "--root", root, "--feed", feed.URL, "--json", "install")
	if r.code != 0 {
		t.Fatalf("repair: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var res struct {
		Op      string              `json:"op"`
		Version string              `json:"version"`
		Verify  *postinstall.Report `json:"verify"`
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	if err := dec.Decode(&res); err != nil || dec.More() {
		t.Fatalf("not one JSON object: %v\n%s", err, r.stdout)
	}
	if res.Op != "install" || res.Version != "6.4.1" || res.Verify == nil || res.Verify.Summary.Fail == 0 {
		t.Fatalf("result %+v\n%s", res, r.stdout)
	}
	if strings.Contains(r.stdout+r.stderr, "TICKETSECRET42") {
		t.Fatal("ticket printed")
	}
}
