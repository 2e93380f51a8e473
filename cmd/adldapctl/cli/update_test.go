package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adldapctl/adldapctl/installer"
	"github.com/adldapctl/adldapctl/internal/testfeed"
)

func installAt(t *testing.T, feed *testfeed.Server, root, version string) {
	t.Helper()
	r := run(t, "--root", root, "--feed", feed.URL, "install", "--version", version, "--ticket", ticket)
	if r.code != 0 {
		t.Fatalf("install %s: exit %d\n%s", version, r.code, r.stderr)
	}
}

func checkJSONOf(t *testing.T, r runResult) checkJSON {
	t.Helper()
	var c checkJSON
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil {
		t.Fatalf("update --check --json: %v\n%s\n%s", err, r.stdout, r.stderr)
	}
	return c
}

func TestUpdateCheckExitCodesAndChannels(t *testing.T) {
	requireNode(t)
	feed := startFeed(t,
		testfeed.ReleaseSpec{Version: "6.4.1"},
		testfeed.ReleaseSpec{Version: "6.5.0"},
		testfeed.ReleaseSpec{Version: "6.7.0", Draft: true},
		testfeed.ReleaseSpec{Version: "6.6.0-rc.1", Prerelease: true},
	)
	root := t.TempDir()
	installAt(t, feed, root, "6.4.1")
	// install again repairs the installed version; it never upgrades.
	if r := run(t, "--root", root, "--feed", feed.URL, "install"); r.code != 0 || !strings.Contains(r.stdout, "repaired 6.4.1") {
		t.Fatalf("second install: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r := run(t, "--root", root, "--feed", feed.URL, "--json", "update", "--check")
	c := checkJSONOf(t, r)
	if r.code != 10 || c != (checkJSON{Installed: "6.4.1", Latest: "6.5.0", UpdateAvailable: true, Channel: "stable"}) {
		t.Fatalf("check: exit %d %+v", r.code, c)
	}
	r = run(t, "--root", root, "--feed", feed.URL, "--json", "update", "--check", "--channel", "prerelease")
	if c = checkJSONOf(t, r); r.code != 10 || c.Latest != "6.6.0-rc.1" || c.Channel != "prerelease" {
		t.Fatalf("prerelease check: exit %d %+v", r.code, c)
	}
	var st statusJSON
	json.Unmarshal([]byte(run(t, "--root", root, "--json", "status").stdout), &st)
	if st.Latest != "6.6.0-rc.1" || st.LatestChannel != "prerelease" {
		t.Errorf("status does not show the latest known release: %+v", st)
	}
	r = run(t, "--root", root, "--feed", feed.URL, "update", "--check", "--channel", "nightly")
	if r.code != 2 {
		t.Errorf("bad channel: exit %d, want 2", r.code)
	}

	// --dry-run changes nothing.
	before := treeDigest(t, root)
	r = run(t, "--root", root, "--feed", feed.URL, "update", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "from 6.4.1 to 6.5.0") {
		t.Fatalf("dry run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if after := treeDigest(t, root); after != before {
		t.Error("dry run changed files")
	}

	r = run(t, "--root", root, "--feed", feed.URL, "update")
	if r.code != 0 || !strings.Contains(r.stdout, "updated to 6.5.0") {
		t.Fatalf("update: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, "--root", root, "--feed", feed.URL, "--json", "update", "--check")
	if c = checkJSONOf(t, r); r.code != 0 || c.UpdateAvailable || c.Installed != "6.5.0" {
		t.Fatalf("check when current: exit %d %+v", r.code, c)
	}

	// Downgrade refused without --allow-downgrade, nothing changed.
	before = treeDigest(t, root)
	r = run(t, "--root", root, "--feed", feed.URL, "update", "--version", "6.4.1")
	if r.code != 1 || !strings.Contains(r.stderr, "--allow-downgrade") {
		t.Fatalf("downgrade: exit %d\n%s", r.code, r.stderr)
	}
	if after := treeDigest(t, root); after != before {
		t.Error("refused downgrade changed files")
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/adldapctl", installer.JournalFile)); !os.IsNotExist(err) {
		t.Error("transaction record left after a refused downgrade")
	}
	r = run(t, "--root", root, "--feed", feed.URL, "update", "--version", "6.4.1", "--allow-downgrade")
	if r.code != 0 {
		t.Fatalf("allowed downgrade: exit %d\n%s", r.code, r.stderr)
	}
	// Offline update from a file the admin brought, checked by --sha256.
	f := filepath.Join(t.TempDir(), "ad-ldap-connector-v6.5.0.tar.gz")
	os.WriteFile(f, feed.Tarball("6.5.0"), 0o644)
	if r = run(t, "--root", root, "update", "--from", f, "--sha256", strings.Repeat("0", 64)); r.code != 4 {
		t.Fatalf("offline update with a wrong --sha256: exit %d, want 4\n%s", r.code, r.stderr)
	}
	r = run(t, "--root", root, "update", "--from", f, "--sha256", feed.TarballSHA256("6.5.0"))
	if r.code != 0 || !strings.Contains(r.stdout, "updated to 6.5.0") {
		t.Fatalf("offline update: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestUpdateCheckUnreachableFeedIsAnError(t *testing.T) {
	root := t.TempDir()
	r := run(t, "--root", root, "--feed", "http://127.0.0.1:1/repos/auth0/ad-ldap-connector", "update", "--check")
	if r.code != 1 || !strings.Contains(r.stderr, "127.0.0.1:1") {
		t.Fatalf("unreachable feed: exit %d, want 1 naming the URL\n%s", r.code, r.stderr)
	}
	r = run(t, "--root", root, "--feed", "http://127.0.0.1:1/repos/auth0/ad-ldap-connector", "update", "--check",
		"--proxy", "http://bob:s3cretpw@127.0.0.1:2")
	if r.code != 1 || strings.Contains(r.stderr, "s3cretpw") || !strings.Contains(r.stderr, "127.0.0.1:2") {
		t.Fatalf("proxy error must name the proxy without its password: exit %d\n%s", r.code, r.stderr)
	}
}

func TestRollbackInSandboxKeepsCustomerFiles(t *testing.T) {
	requireNode(t)
	feed := startFeed(t, testfeed.ReleaseSpec{Version: "6.4.1"}, testfeed.ReleaseSpec{Version: "6.5.0"})
	root := t.TempDir()
	if r := run(t, "--root", root, "rollback"); r.code != 1 {
		t.Errorf("rollback with nothing installed: exit %d", r.code)
	}
	installAt(t, feed, root, "6.4.1")
	if r := run(t, "--root", root, "rollback"); r.code != 1 || !strings.Contains(r.stderr, "no previous version") {
		t.Errorf("rollback with no previous: exit %d %s", r.code, r.stderr)
	}
	inst := filepath.Join(root, "opt/auth0-adldap")
	mapper := []byte("module.exports = function (u) { return { mine: true }; };\n")
	os.WriteFile(filepath.Join(inst, "lib/profileMapper.js"), mapper, 0o644)
	if r := run(t, "--root", root, "--feed", feed.URL, "update"); r.code != 0 {
		t.Fatalf("update: %d %s", r.code, r.stderr)
	}
	// Changed after the update: rollback keeps the files as they are now.
	mapper2 := []byte("module.exports = function (u) { return { mine: 2 }; };\n")
	os.WriteFile(filepath.Join(inst, "lib/profileMapper.js"), mapper2, 0o644)
	r := run(t, "--root", root, "--json", "rollback")
	if r.code != 0 {
		t.Fatalf("rollback: %d %s", r.code, r.stderr)
	}
	var res struct {
		Version         string `json:"version"`
		PreviousVersion string `json:"previous_version"`
	}
	json.Unmarshal([]byte(r.stdout), &res)
	if res.Version != "6.4.1" || res.PreviousVersion != "6.5.0" {
		t.Fatalf("rollback result %s", r.stdout)
	}
	if b, _ := os.ReadFile(filepath.Join(inst, "lib/profileMapper.js")); !bytes.Equal(b, mapper2) {
		t.Errorf("rollback lost the current profile mapper: %s", b)
	}
	if b, _ := os.ReadFile(filepath.Join(inst, "config.json")); !bytes.Contains(b, []byte(ticket)) {
		t.Errorf("rollback lost config.json")
	}
	r = run(t, "--root", root, "--json", "status")
	var st statusJSON
	json.Unmarshal([]byte(r.stdout), &st)
	if st.Version != "6.4.1" || st.PreviousVersion != "6.5.0" {
		t.Errorf("status after rollback: %+v", st)
	}
}

// treeDigest summarises every file under root (path, size, mode, content).
func treeDigest(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "var/lib/adldapctl/lock" || rel == "var/lib/adldapctl/latest.json" {
			return nil
		}
		b.WriteString(rel + " " + fi.Mode().String())
		if fi.Mode().IsRegular() {
			c, _ := os.ReadFile(p)
			b.Write(c)
		}
		b.WriteString("\n")
		return nil
	})
	return b.String()
}
