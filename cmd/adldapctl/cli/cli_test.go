package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adldapctl/adldapctl/internal/testfeed"
)

type runResult struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, args ...string) runResult {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(args, &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errb})
	return runResult{code, out.String(), errb.String()}
}

func startFeed(t *testing.T, rels ...testfeed.ReleaseSpec) *testfeed.Server {
	t.Helper()
	s, err := testfeed.Start("127.0.0.1:0", rels)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func requireNode(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node not installed (make test installs it)")
		}
		t.Skip("node not installed")
	}
}

const ticket = "https://tenant.example.auth0.com/p/ad/TICKETSECRET42"

func TestInstallSandboxAndRepairKeepsCustomerFiles(t *testing.T) {
	requireNode(t)
	feed := startFeed(t, testfeed.ReleaseSpec{Version: "6.4.1"}, testfeed.ReleaseSpec{Version: "6.5.0-rc.1", Prerelease: true})
	root := t.TempDir()
	r := run(t, "--root", root, "--feed", feed.URL, "install", "--ticket", ticket)
	if r.code != 0 {
		t.Fatalf("install: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, "TICKETSECRET42") {
		t.Fatal("ticket printed")
	}
	inst := filepath.Join(root, "opt/auth0-adldap")
	cfgPath := filepath.Join(inst, "config.json")
	fi, err := os.Stat(cfgPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config.json: %v mode %v", err, fi.Mode())
	}
	cfg, _ := os.ReadFile(cfgPath)
	if !strings.Contains(string(cfg), ticket) {
		t.Fatalf("ticket not in config.json: %s", cfg)
	}
	unit, err := os.ReadFile(filepath.Join(root, "etc/systemd/system/auth0-adldap.service"))
	if err != nil || !strings.Contains(string(unit), "WorkingDirectory=/opt/auth0-adldap\n") {
		t.Fatalf("unit under root: %v\n%s", err, unit)
	}
	// status reads the version from the install record (package.json says 0.0.0).
	r = run(t, "--root", root, "--json", "status")
	var st statusJSON
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("status json: %v\n%s", err, r.stdout)
	}
	if st.Version != "6.4.1" || st.PackageVersion != "0.0.0" || !st.Installed {
		t.Fatalf("status = %+v (latest stable must be 6.4.1, not the prerelease)", st)
	}

	// Customise, then repair: customer files byte for byte.
	custom := map[string][]byte{
		"lib/profileMapper.js": []byte("module.exports = function (u) { return { custom: true }; };\n"),
		"certs/cert.key":       []byte("-----BEGIN PRIVATE KEY-----\nnot-a-real-key\n-----END PRIVATE KEY-----\n"),
		"config.json":          append([]byte(nil), cfg...),
	}
	for rel, b := range custom {
		os.MkdirAll(filepath.Dir(filepath.Join(inst, rel)), 0o700)
		if err := os.WriteFile(filepath.Join(inst, rel), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.Remove(filepath.Join(inst, "server.js")) // damage to repair
	r = run(t, "--root", root, "--feed", feed.URL, "install")
	if r.code != 0 {
		t.Fatalf("repair: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "repaired 6.4.1") {
		t.Errorf("repair not reported: %s", r.stdout)
	}
	if _, err := os.Stat(filepath.Join(inst, "server.js")); err != nil {
		t.Error("server.js not repaired")
	}
	for rel, b := range custom {
		got, err := os.ReadFile(filepath.Join(inst, rel))
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("%s changed by repair: %v\n%s", rel, err, got)
		}
	}
	// uninstall keeps customer files, --purge removes them.
	r = run(t, "--root", root, "uninstall")
	if r.code != 0 {
		t.Fatalf("uninstall: %d %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(inst, "server.js")); err == nil {
		t.Error("program files left")
	}
	for rel := range custom {
		if _, err := os.Stat(filepath.Join(inst, rel)); err != nil {
			t.Errorf("uninstall removed customer file %s", rel)
		}
	}
	if r = run(t, "--root", root, "uninstall", "--purge"); r.code != 2 {
		t.Errorf("--purge without --yes on a non-terminal: exit %d, want 2", r.code)
	}
	if r = run(t, "--root", root, "--yes", "uninstall", "--purge"); r.code != 0 {
		t.Fatalf("purge: %d %s", r.code, r.stderr)
	}
	if _, err := os.Stat(inst); !os.IsNotExist(err) {
		t.Errorf("install dir left after purge: %v", err)
	}
}

// tarGz builds a tar.gz from entries.
type entry struct {
	hdr  tar.Header
	body string
}

func tarGz(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg || h.Typeflag == 0 {
			h.Size = int64(len(e.body))
			if h.Mode == 0 {
				h.Mode = 0o644
			}
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if e.body != "" {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func file(name, body string) entry {
	return entry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg}, body: body}
}

func TestHostileArtifactsRefusedWithExit4(t *testing.T) {
	top := "auth0-ad-ldap-connector-abc1234/"
	base := []entry{
		{hdr: tar.Header{Name: top, Typeflag: tar.TypeDir, Mode: 0o755}},
		file(top+"server.js", "console.log('x')"),
		file(top+"package.json", `{"version":"0.0.0"}`),
	}
	with := func(extra ...entry) []byte { return tarGz(t, append(append([]entry{}, base...), extra...)...) }
	cases := map[string][]byte{
		"dotdot":        with(file(top+"../../etc/evil", "x")),
		"absolute":      with(file("/etc/evil", "x")),
		"symlink-out":   with(entry{hdr: tar.Header{Name: top + "lib", Typeflag: tar.TypeSymlink, Linkname: "/etc"}}),
		"symlink-climb": with(entry{hdr: tar.Header{Name: top + "up", Typeflag: tar.TypeSymlink, Linkname: "../../.."}}),
		"hardlink-out":  with(entry{hdr: tar.Header{Name: top + "passwd", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}}),
		"device":        with(entry{hdr: tar.Header{Name: top + "sda", Typeflag: tar.TypeBlock, Devmajor: 8}}),
	}
	for name, tb := range cases {
		t.Run(name, func(t *testing.T) {
			feed := startFeed(t, testfeed.ReleaseSpec{Version: "6.4.1", Tarball: tb})
			root := t.TempDir()
			r := run(t, "--root", root, "--feed", feed.URL, "install", "--ticket", ticket)
			if r.code != 4 {
				t.Fatalf("exit %d, want 4\n%s", r.code, r.stderr)
			}
			assertNothingInstalled(t, root)
		})
	}
}

func assertNothingInstalled(t *testing.T, root string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(root, "opt/auth0-adldap")); !os.IsNotExist(err) {
		t.Errorf("install dir written: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/systemd/system/auth0-adldap.service")); !os.IsNotExist(err) {
		t.Errorf("unit written: %v", err)
	}
	entries, _ := filepath.Glob(filepath.Join(root, "opt/.auth0-adldap.*"))
	if len(entries) > 0 {
		t.Errorf("staging left behind: %v", entries)
	}
}

func TestDigestMismatchAndTruncatedDownloadRefused(t *testing.T) {
	feed := startFeed(t, testfeed.ReleaseSpec{Version: "6.4.1"})
	t.Run("sha256-mismatch", func(t *testing.T) {
		root := t.TempDir()
		r := run(t, "--root", root, "--feed", feed.URL, "install", "--sha256", strings.Repeat("ab", 32))
		if r.code != 4 {
			t.Fatalf("exit %d, want 4\n%s", r.code, r.stderr)
		}
		assertNothingInstalled(t, root)
	})
	t.Run("truncated-then-resumed", func(t *testing.T) {
		requireNode(t)
		root := t.TempDir()
		tb := feed.TarballURL("6.4.1")
		size := int64(len(feed.Tarball("6.4.1")))
		feed.ResetCounters()
		feed.Inject(tb, 3, testfeed.Fault{CutAfter: 500})
		r := run(t, "--root", root, "--feed", feed.URL, "install")
		if r.code != 4 || !strings.Contains(r.stderr, "truncated") {
			t.Fatalf("exit %d, want 4 for a truncated download\n%s", r.code, r.stderr)
		}
		assertNothingInstalled(t, root)
		if _, err := os.Stat(filepath.Join(root, "var/cache/adldapctl/ad-ldap-connector-v6.4.1.tar.gz")); !os.IsNotExist(err) {
			t.Fatal("a truncated download became the final artifact")
		}
		// The next run sends only what is missing.
		feed.ResetCounters()
		r = run(t, "--root", root, "--feed", feed.URL, "install")
		if r.code != 0 {
			t.Fatalf("resumed install: exit %d\n%s", r.code, r.stderr)
		}
		if sent := feed.BytesSent(tb); sent != size-1500 || feed.RangeRequests(tb) != 1 {
			t.Errorf("resumed run was sent %d bytes in %d range requests, want the missing %d in 1", sent, feed.RangeRequests(tb), size-1500)
		}
	})
	t.Run("require-digest", func(t *testing.T) {
		root := t.TempDir()
		r := run(t, "--root", root, "--feed", feed.URL, "install", "--require-digest")
		if r.code != 4 || !strings.Contains(r.stderr, "--sha256") {
			t.Fatalf("exit %d, want 4 naming --sha256\n%s", r.code, r.stderr)
		}
	})
	t.Run("from-file-with-sha256", func(t *testing.T) {
		requireNode(t)
		root := t.TempDir()
		f := filepath.Join(t.TempDir(), "ad-ldap-connector-v6.4.1.tar.gz")
		os.WriteFile(f, feed.Tarball("6.4.1"), 0o644)
		r := run(t, "--root", root, "install", "--from", f, "--sha256", feed.TarballSHA256("6.4.1"))
		if r.code != 0 || !strings.Contains(r.stdout, "matches --sha256") {
			t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
	})
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"no-such-command"},
		{"install", "--no-such-flag"},
		{"status", "extra"},
		{"--root", t.TempDir(), "install", "--ticket", "http://not-https"},
		{"--root", t.TempDir(), "--feed", "http://example.com/repos/a/b", "install"},
	} {
		if r := run(t, args...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, r.code, r.stderr)
		}
	}
}

func TestNonRootGetsExit3(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to drop to another user")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatal("setpriv missing (util-linux)")
	}
	bin := filepath.Join(t.TempDir(), "adldapctl")
	buildTool(t, bin, "0.0.1")
	os.Chmod(filepath.Dir(bin), 0o755)
	for _, args := range [][]string{{"install", "--ticket", ticket}, {"uninstall"}, {"service", "restart"}} {
		cmd := exec.Command(setpriv, append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", bin}, args...)...)
		out, err := cmd.CombinedOutput()
		ee, _ := err.(*exec.ExitError)
		if ee == nil || ee.ExitCode() != 3 {
			t.Fatalf("%v as nobody: %v, want exit 3\n%s", args, err, out)
		}
		if !strings.Contains(string(out), "run as root") {
			t.Errorf("message does not say how to elevate: %s", out)
		}
	}
}

func TestVersionJSON(t *testing.T) {
	r := run(t, "--json", "version")
	var v map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v["version"] == "" || v["commit"] == "" {
		t.Fatalf("version --json: %v %s", err, r.stdout)
	}
}

func TestSecretsStayInConfigOnly(t *testing.T) {
	requireNode(t)
	feed := startFeed(t, testfeed.ReleaseSpec{Version: "6.4.1"}, testfeed.ReleaseSpec{Version: "6.5.0"})
	root := t.TempDir()
	inst := filepath.Join(root, "opt/auth0-adldap")
	os.MkdirAll(inst, 0o755)
	// A config.json saved by a Windows editor: UTF-8 BOM, and a bind password.
	// Its proxy is the feed itself (it serves absolute-form requests), since
	// downloads go through the connector's proxy.
	feedHost := strings.TrimPrefix(feed.URL[:strings.Index(feed.URL, "/repos/")], "http://")
	os.WriteFile(filepath.Join(inst, "config.json"), []byte("\xef\xbb\xbf{\"LDAP_BIND_PASSWORD\":\"BindPw-991\",\"HTTP_PROXY\":\"http://u:ProxyPw-77@"+feedHost+"\"}"), 0o644)
	var out strings.Builder
	for _, args := range [][]string{
		{"install", "--version", "6.4.1", "--ticket", ticket},
		{"--json", "status"}, {"status"},
		{"update", "--proxy", "http://fleet:CliProxyPw-55@127.0.0.1:1"},
		{"update"}, {"--json", "rollback"},
	} {
		r := run(t, append([]string{"--root", root, "--feed", feed.URL}, args...)...)
		out.WriteString(r.stdout + r.stderr)
	}
	secrets := []string{"TICKETSECRET42", "BindPw-991", "ProxyPw-77", "CliProxyPw-55"}
	for _, s := range secrets {
		if strings.Contains(out.String(), s) {
			t.Errorf("%s printed", s)
		}
	}
	if !strings.Contains(out.String(), "http://u:xxxxx@"+feedHost) {
		t.Error("status does not show the redacted proxy")
	}
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() || filepath.Base(p) == "config.json" {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s written to %s", s, p)
			}
		}
		return nil
	})
	cfg, _ := os.ReadFile(filepath.Join(inst, "config.json"))
	if bytes.HasPrefix(cfg, []byte("\xef\xbb\xbf")) || !bytes.Contains(cfg, []byte("BindPw-991")) || !bytes.Contains(cfg, []byte(ticket)) {
		t.Errorf("config.json after install: %q", cfg)
	}
}

func TestBadProxyURLsAreUsageErrors(t *testing.T) {
	for _, p := range []string{"http://wpad.corp/proxy.pac", "http://u:bad%zz@proxy:3128", "ftp://proxy:21"} {
		r := run(t, "--root", t.TempDir(), "install", "--proxy", p)
		if r.code != 2 {
			t.Errorf("--proxy %s: exit %d, want 2\n%s", p, r.code, r.stderr)
		}
		if strings.Contains(r.stderr, "bad%zz") {
			t.Errorf("password of an unparsable proxy URL printed: %s", r.stderr)
		}
	}
}

// TestNpmFailureTouchesNothing: a dependency that cannot be fetched (a
// locked-down server) fails the install before the install dir is
// touched, naming the dependency and pointing at the proxy settings.
func TestNpmFailureTouchesNothing(t *testing.T) {
	requireNode(t)
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skip("npm not installed")
	}
	files, err := testfeed.SampleFiles("6.4.1", testfeed.SampleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	files["package.json"] = []byte(`{"name":"ad-ldap-connector","version":"0.0.0","engines":{"node":">=18"},"dependencies":{"wsfed-unreachable":"1.0.0"}}`)
	files["package-lock.json"] = []byte(`{"name":"ad-ldap-connector","version":"0.0.0","lockfileVersion":3,"requires":true,"packages":{
"":{"name":"ad-ldap-connector","version":"0.0.0","dependencies":{"wsfed-unreachable":"1.0.0"}},
"node_modules/wsfed-unreachable":{"version":"1.0.0","resolved":"http://127.0.0.1:1/wsfed-unreachable/-/wsfed-unreachable-1.0.0.tgz",
"integrity":"sha512-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="}}}`)
	top := "auth0-ad-ldap-connector-abc1234/"
	entries := []entry{{hdr: tar.Header{Name: top, Typeflag: tar.TypeDir, Mode: 0o755}}}
	for name, body := range files {
		entries = append(entries, file(top+name, string(body)))
	}
	feed := startFeed(t, testfeed.ReleaseSpec{Version: "6.4.1", Tarball: tarGz(t, entries...)})
	root := t.TempDir()
	inst := filepath.Join(root, "opt/auth0-adldap")
	os.MkdirAll(inst, 0o755)
	os.WriteFile(filepath.Join(inst, "config.json"), []byte(`{"PORT":1}`), 0o600)
	t.Setenv("npm_config_fetch_retries", "0")
	t.Setenv("npm_config_cache", t.TempDir())
	r := run(t, "--root", root, "--feed", feed.URL, "install", "--ticket", ticket)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"wsfed-unreachable", "--proxy", "install folder was not touched"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("error lacks %q:\n%s", want, r.stderr)
		}
	}
	entriesNow, _ := os.ReadDir(inst)
	if len(entriesNow) != 1 {
		t.Errorf("install dir touched: %v", entriesNow)
	}
	if b, _ := os.ReadFile(filepath.Join(inst, "config.json")); string(b) != `{"PORT":1}` {
		t.Errorf("config.json changed: %s", b)
	}
	if left, _ := filepath.Glob(filepath.Join(root, "opt/.auth0-adldap.*")); len(left) > 0 {
		t.Errorf("staging left: %v", left)
	}
}
