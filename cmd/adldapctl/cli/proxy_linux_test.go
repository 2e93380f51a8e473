//go:build linux

package cli

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adldapctl/adldapctl/internal/testbed"
	"github.com/adldapctl/adldapctl/internal/testfeed"
)

// TestUpdateThroughAuthenticatedSquid runs install and update through a
// real squid with Basic auth on loopback; a wrong password names the 407.
func TestUpdateThroughAuthenticatedSquid(t *testing.T) {
	requireNode(t)
	squid := testbed.StartSquidProxy(t, "fleet", "Pr0xyPass")
	proxyURL := squid.URL
	feed := startFeed(t, testfeed.ReleaseSpec{Version: "6.4.1"}, testfeed.ReleaseSpec{Version: "6.5.0"})
	root := t.TempDir()
	u, _ := url.Parse(proxyURL)
	good := "http://fleet:Pr0xyPass@" + u.Host
	bad := "http://fleet:WrongPass@" + u.Host

	r := run(t, "--root", root, "--feed", feed.URL, "install", "--version", "6.4.1", "--proxy", good)
	if r.code != 0 {
		t.Fatalf("install through squid: exit %d\n%s", r.code, r.stderr)
	}
	// install --proxy also makes it the connector's proxy: config.json and
	// the 0600 service environment file, never the output.
	checkNoSecret(t, "Pr0xyPass", r.stdout, r.stderr)
	cfg, _ := os.ReadFile(filepath.Join(root, "opt/auth0-adldap/config.json"))
	if !strings.Contains(string(cfg), `"HTTP_PROXY": "`+good+`"`) {
		t.Errorf("config.json lacks the proxy:\n%s", cfg)
	}
	envFile := filepath.Join(root, "etc/adldapctl/proxy.env")
	if fi, err := os.Stat(envFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("service env file: %v", err)
	}
	checkNoSecretInFiles(t, "Pr0xyPass", root, envFile, filepath.Join(root, "opt/auth0-adldap/config.json"))
	feed.ResetCounters()
	r = run(t, "--root", root, "--feed", feed.URL, "update", "--proxy", bad)
	if r.code != 1 || !strings.Contains(r.stderr, "407") {
		t.Fatalf("wrong proxy password: exit %d, want 1 naming 407\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, "WrongPass") {
		t.Fatal("proxy password printed")
	}
	if n := feed.Requests(feed.URL + "/releases"); n != 0 {
		t.Errorf("the feed was reached %d times around the proxy", n)
	}
	// Without --proxy (and none in the environment) the update goes
	// through the connector's own proxy, which install --proxy set.
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"} {
		t.Setenv(k, "")
	}
	r = run(t, "--root", root, "--feed", feed.URL, "update")
	if !strings.Contains(r.stderr, "downloading through the connector's proxy http://fleet:xxxxx@") {
		t.Errorf("update did not say it uses the connector's proxy:\n%s", r.stderr)
	}
	if log, _ := os.ReadFile(squid.AccessLog); !strings.Contains(string(log), "/tarball/v6.5.0") {
		t.Errorf("tarball not fetched through squid:\n%s", log)
	}
	if r.code != 0 || !strings.Contains(r.stdout, "updated to 6.5.0") {
		t.Fatalf("update through squid: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, "Pr0xyPass") {
		t.Fatal("proxy password printed")
	}
	if n := feed.Requests(feed.TarballURL("6.5.0")); n == 0 {
		t.Error("tarball never requested through the proxy")
	}
}
