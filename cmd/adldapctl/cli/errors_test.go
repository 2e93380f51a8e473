package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adldapctl/adldapctl/internal/testfeed"
)

// jsonErr decodes the one JSON object a failing --json command prints.
func jsonErr(t *testing.T, r runResult) jsonErrorBody {
	t.Helper()
	var got jsonError
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("stdout is not one JSON error object: %v\n%s", err, r.stdout)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON value:\n%s", r.stdout)
	}
	return got.Error
}

// TestJSONErrorShape pins {"error":{"code","kind","message"}} on stdout
// for a usage error, a verification error and a failed operation.
func TestJSONErrorShape(t *testing.T) {
	root := t.TempDir()
	tarball, err := testfeed.SourceTarball("6.4.1", testfeed.SampleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	art := filepath.Join(t.TempDir(), "ad-ldap-connector-v6.4.1.tar.gz")
	os.WriteFile(art, tarball, 0o644)
	wrong := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name string
		args []string
		code int
		kind string
		msg  string
	}{
		{"usage", []string{"--json", "--root", root, "install", "--sha256", "zz"}, ExitUsage, "usage", "--sha256"},
		{"usage before parse", []string{"--json", "install", "--no-such-flag"}, ExitUsage, "usage", "unknown flag"},
		{"verification", []string{"--json", "--root", root, "install", "--from", art, "--sha256", wrong}, ExitVerification, "verification", "does not match --sha256"},
		{"nothing to roll back", []string{"--json", "--root", root, "rollback"}, ExitFailed, "failed", "no previous version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tc.code, r.stdout, r.stderr)
			}
			e := jsonErr(t, r)
			if e.Code != tc.code || e.Kind != tc.kind || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("error object %+v, want code %d kind %q message containing %q", e, tc.code, tc.kind, tc.msg)
			}
		})
	}
	// Without --json, stdout stays empty.
	if r := run(t, "--root", root, "rollback"); r.code != ExitFailed || r.stdout != "" {
		t.Errorf("rollback without --json: exit %d stdout %q", r.code, r.stdout)
	}
}

// TestUsageErrorsBeforeAnyRequest: bad flag values are exit 2 and nothing
// reaches the feed.
func TestUsageErrorsBeforeAnyRequest(t *testing.T) {
	feed := startFeed(t, testfeed.ReleaseSpec{Version: "6.4.1"})
	root := t.TempDir()
	for _, args := range [][]string{
		{"install", "--sha256", "zz"},
		{"install", "--sha256", strings.Repeat("a", 63)},
		{"update", "--sha256", strings.Repeat("g", 64)},
		{"install", "--version", "garbage"},
		{"update", "--version", "6.x"},
		{"update", "--check", "--channel", "nightly"},
		{"install", "--ticket", "http://tenant.example.test/p/ad/abc"},
		{"install", "--ticket", "https://tenant.example.test/p/ad/abc?x=1"},
		{"install", "--ticket", "https://tenant.example.test/p/ad/ab\x00c"},
		{"install", "--ticket", "https://tenant.example.test/p/ad/ab\nc"},
		{"install", "--ticket", "https://user:pw@tenant.example.test/p/ad/abc"},
		{"install", "--ticket", "https://tenant.example.test/other/abc"},
		{"install", "--ticket", "not a url"},
		{"install", "--proxy", "http://proxy.example.test/proxy.pac"},
	} {
		r := run(t, append([]string{"--root", root, "--feed", feed.URL}, args...)...)
		if r.code != ExitUsage {
			t.Errorf("%q: exit %d, want 2\n%s", args, r.code, r.stderr)
		}
	}
	for _, args := range [][]string{
		{"--root", "", "status"},
		{"--root=", "install"},
		{"--root", "  ", "update"},
	} {
		r := run(t, append(args, "--feed", feed.URL)...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, "--root is empty") {
			t.Errorf("%q: exit %d, want 2 naming --root\n%s", args, r.code, r.stderr)
		}
	}
	if r := run(t, "--root", root, "self-update"); r.code != ExitUsage || !strings.Contains(r.stderr, "no adldapctl binary at "+filepath.Join(root, "usr/bin/adldapctl")) {
		t.Errorf("self-update --root: exit %d\n%s", r.code, r.stderr)
	}
	if n := feed.TotalRequests(); n != 0 {
		t.Errorf("the feed got %d requests for commands that were usage errors", n)
	}
	if _, err := os.Stat(filepath.Join(root, "opt")); err == nil {
		t.Errorf("a usage error wrote under the root")
	}
}
