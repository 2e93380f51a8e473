package updater

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckArtifactOrigin(t *testing.T) {
	dir := t.TempDir()
	mirror := filepath.Join(dir, "mirror")
	outside := filepath.Join(dir, "outside.msi")
	mtWrite(t, outside, "not the mirror's")
	if err := os.MkdirAll(filepath.Join(mirror, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	inside := filepath.Join(mirror, "sub", "a.msi")
	mtWrite(t, inside, "mirror's")
	escape := filepath.Join(mirror, "escape.msi")
	if err := os.Symlink(outside, escape); err != nil {
		t.Fatal(err)
	}
	spaced := filepath.Join(dir, "Program Files", "AD LDAP mirror") // as on Windows
	if err := os.MkdirAll(spaced, 0o755); err != nil {
		t.Fatal(err)
	}
	linkedMirror := filepath.Join(dir, "linked-mirror") // the feed itself through a link is fine
	if err := os.Symlink(mirror, linkedMirror); err != nil {
		t.Fatal(err)
	}

	const gh = "https://api.github.com/repos/auth0/ad-ldap-connector"
	for _, tc := range []struct {
		feed, art string
		ok        bool
	}{
		{gh, "https://api.github.com/repos/auth0/ad-ldap-connector/tarball/v6.4.1", true},
		{gh, "https://codeload.github.com/auth0/ad-ldap-connector/legacy.tar.gz/refs/tags/v6.4.1", true},
		{gh, "https://github.com/auth0/ad-ldap-connector/releases/download/v6.4.1/adldap-v6.4.1.msi", true},
		{gh, "file:///etc/shadow", false},
		{gh, "/etc/shadow", false},
		{gh, `C:\Windows\win.ini`, false},
		{gh, "etc/shadow", false},
		{gh, "ftp://example.com/x.msi", false},
		{gh, "gopher://example.com/x", false},
		{gh, "http://example.com/x.msi", false},
		{gh, "http://127.0.0.1:8357/x", false},
		{gh, "https://127.0.0.1/x", false},
		{gh, "https://localhost/x", false},
		{gh, "https://LOCALHOST./x", false},
		{gh, "https://[::1]/x", false},
		{gh, "https://0.0.0.0/x", false},
		{gh, "https://[::ffff:127.0.0.1]/x", false},
		{gh, "https:///x", false},
		{gh, "https://example.com/x y", false},
		{gh, " https://example.com/x", false},
		{gh, "", false},
		// Loopback test stand-ins.
		{"http://127.0.0.1:8080/repos/o/r", "http://127.0.0.1:8080/o/r/tarball/v1", true},
		{"http://127.0.0.1:8080/repos/o/r", "http://localhost:9/x", true},
		{"https://127.0.0.1:8443/repos/o/r", "http://127.0.0.1:9/x", true},
		{"http://127.0.0.1:8080/repos/o/r", "https://example.com/x", true},
		{"http://127.0.0.1:8080/repos/o/r", "http://example.com/x", false},
		{"http://127.0.0.1:8080/repos/o/r", "file:///etc/shadow", false},
		// Local folder feeds.
		{mirror, inside, true},
		{mirror, "file://" + filepath.ToSlash(inside), true},
		{linkedMirror, filepath.Join(linkedMirror, "sub", "a.msi"), true},
		{mirror, filepath.Join(mirror, "missing.msi"), true}, // fails later, when opened
		{mirror, outside, false},
		{mirror, filepath.Join(mirror, "..", "outside.msi"), false},
		{mirror, escape, false},
		{mirror, mirror, false},
		{mirror, "https://example.com/a.msi", false},
		{spaced, filepath.Join(spaced, "adldap-v6.4.1.msi"), true},
		{"file://" + filepath.ToSlash(spaced), filepath.Join(spaced, "adldap-v6.4.1.msi"), true},
		// A local file (--from) names itself.
		{outside, outside, true},
		{outside, inside, false},
		// The feed must be acceptable itself.
		{"http://example.com/repos/o/r", "https://example.com/x", false},
	} {
		err := CheckArtifactOrigin(tc.feed, tc.art)
		if tc.ok != (err == nil) {
			t.Errorf("CheckArtifactOrigin(%q, %q) = %v, want ok=%v", tc.feed, tc.art, err, tc.ok)
			continue
		}
		if err != nil && !errors.Is(err, ErrVerification) {
			t.Errorf("CheckArtifactOrigin(%q, %q) = %v, want ErrVerification", tc.feed, tc.art, err)
		}
	}

	// The error names the feed and the artifact, without their passwords.
	err := CheckArtifactOrigin("https://u:s3cret@ghe.example/api/v3/repos/o/r", "file:///etc/shadow")
	if err == nil || strings.Contains(err.Error(), "s3cret") ||
		!strings.Contains(err.Error(), "https://u:xxxxx@ghe.example/api/v3/repos/o/r") || !strings.Contains(err.Error(), "file:///etc/shadow") {
		t.Errorf("err = %v, want the feed (redacted) and the artifact named", err)
	}
}

// anyHostClient reaches the TLS test server srv whatever host a URL
// names, so that a test can play a public feed (https://*.example.com;
// the test certificate covers those names).
func anyHostClient(srv *httptest.Server) *http.Client {
	tr := srv.Client().Transport.(*http.Transport).Clone()
	addr := srv.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: tr}
}

// A feed served over https may not aim the download at a local file, a
// foreign scheme, plain http or a loopback host: Artifact refuses, and so
// does Fetch before writing anything.
func TestGitHubFeedRefusesForeignArtifacts(t *testing.T) {
	body := payload(1000)
	var tarball, asset string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/releases"):
			rel := []map[string]any{{
				"tag_name": "v6.4.1", "tarball_url": tarball,
				"assets": []map[string]any{{"name": "adldap-v6.4.1.msi", "browser_download_url": asset, "size": len(body)}},
			}}
			json.NewEncoder(w).Encode(rel)
		case r.URL.Path == "/artifact":
			w.Write(body)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	client := anyHostClient(srv)
	feed := &GitHubFeed{BaseURL: "https://api.example.com/repos/auth0/ad-ldap-connector", Client: client}
	ctx := context.Background()

	local := filepath.Join(t.TempDir(), "secret")
	mtWrite(t, local, "the admin's secret")
	for _, bad := range []string{
		"file://" + filepath.ToSlash(local),
		local,
		"ftp://files.example.com/a",
		"http://files.example.com/a",
		"http://127.0.0.1:8357/a",
		"https://127.0.0.1/a",
		"https://localhost/a",
	} {
		tarball, asset = bad, bad
		rel, err := feed.Release(ctx, "6.4.1")
		if err != nil {
			t.Fatal(err)
		}
		for _, goos := range []string{"linux", "windows"} {
			a, err := feed.Artifact(rel, goos)
			if !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), feed.BaseURL) || !strings.Contains(err.Error(), bad) {
				t.Errorf("%s artifact %q: %+v, %v; want ErrVerification naming the feed and the URL", goos, bad, a, err)
			}
			// Fetch checks again, before anything is written.
			cache := filepath.Join(t.TempDir(), "cache")
			name := "ad-ldap-connector-v6.4.1.tar.gz"
			_, err = (&Downloader{Client: client}).Fetch(ctx, Artifact{Name: name, URL: bad, Feed: feed.BaseURL}, cache, VerifyOptions{})
			if !errors.Is(err, ErrVerification) {
				t.Errorf("Fetch of %q from the feed: %v, want ErrVerification", bad, err)
			}
			assertEmpty(t, cache)
		}
	}

	// A source tarball on another https host (api.github.com sends it to
	// codeload.github.com) is fine, and downloads.
	tarball, asset = "https://codeload.example.com/artifact", "https://objects.example.com/artifact"
	rel, err := feed.Release(ctx, "6.4.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, goos := range []string{"linux", "windows"} {
		a, err := feed.Artifact(rel, goos)
		if err != nil || a.Feed != feed.BaseURL {
			t.Fatalf("%s artifact: %+v, %v", goos, a, err)
		}
		res, err := (&Downloader{Client: client}).Fetch(ctx, a, t.TempDir(), VerifyOptions{SHA256: sum(body)})
		if err != nil || res.Size != int64(len(body)) {
			t.Fatalf("%s Fetch: %+v, %v", goos, res, err)
		}
	}
}

// A redirect may move a download to another https host, never to a
// loopback host or to plain http.
func TestFetchRefusesRedirectChangingKind(t *testing.T) {
	body := payload(500)
	loop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer loop.Close()
	var target string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host == "objects.example.com" {
			w.Write(body)
			return
		}
		http.Redirect(w, r, target, http.StatusFound)
	}))
	defer srv.Close()
	client := anyHostClient(srv)
	for _, tc := range []struct {
		target string
		ok     bool
	}{
		{"https://objects.example.com/a", true},
		{loop.URL + "/a", false},                                       // http to loopback
		{strings.Replace(srv.URL, "127.0.0.1", "localhost", 1), false}, // https to loopback
		{"http://objects.example.com/a", false},
	} {
		target = tc.target
		dir := t.TempDir()
		res, err := (&Downloader{Client: client}).Fetch(context.Background(),
			Artifact{Name: "x.msi", URL: "https://github.example.com/x.msi", Feed: "https://api.example.com/repos/o/r"}, dir, VerifyOptions{})
		if tc.ok {
			if err != nil || res.Size != int64(len(body)) {
				t.Errorf("redirect to %s: %+v, %v", tc.target, res, err)
			}
			continue
		}
		if !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), "redirect") {
			t.Errorf("redirect to %s: err = %v, want a refused redirect (ErrVerification)", tc.target, err)
		}
		assertEmpty(t, dir)
	}
}

// A local mirror names files inside its folder; a link in it that leads
// out is refused.
func TestMirrorFeedRefusesArtifactOutsideFolder(t *testing.T) {
	pub, priv := mtKeys(t)
	dir := mtMirror(t, priv, 1)
	outside := filepath.Join(t.TempDir(), "elsewhere.msi")
	mtWrite(t, outside, "windows 6.5.0 msi bytes") // even with the signed content
	msi := filepath.Join(dir, "adldap-v6.5.0.msi")
	if err := os.Remove(msi); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, msi); err != nil {
		t.Fatal(err)
	}
	f := &MirrorFeed{Base: dir, PublicKey: pub, Now: mtClock}
	rel, err := f.Release(context.Background(), "6.5.0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Artifact(rel, "linux"); err != nil {
		t.Errorf("linux artifact inside the mirror: %v", err)
	}
	a, err := f.Artifact(rel, "windows")
	if !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), "not inside the feed's folder") {
		t.Errorf("artifact through a link out of the mirror: %+v, %v; want ErrVerification", a, err)
	}
}

func TestFileSourceArtifactIsTheFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ad-ldap-connector-v6.4.1.tar.gz")
	mtWrite(t, p, "tarball")
	s, err := NewFileSource(p, "")
	if err != nil {
		t.Fatal(err)
	}
	rel, _ := s.Release(context.Background(), "6.4.1")
	a, err := s.Artifact(rel, "linux")
	if err != nil || a.URL != p || a.Feed != p {
		t.Fatalf("Artifact = %+v, %v", a, err)
	}
	res, err := (&Downloader{}).Fetch(context.Background(), a, t.TempDir(), VerifyOptions{})
	if err != nil || res.Size != 7 {
		t.Fatalf("Fetch = %+v, %v", res, err)
	}
	// The same artifact with its URL changed is not the file any more.
	a.URL = fmt.Sprintf("https://example.com/%s", filepath.Base(p))
	if _, err := (&Downloader{}).Fetch(context.Background(), a, t.TempDir(), VerifyOptions{}); !errors.Is(err, ErrVerification) {
		t.Errorf("Fetch of a changed URL: %v, want ErrVerification", err)
	}
}

// A public feed may not page to a loopback host.
func TestGitHubFeedRefusesLoopbackPagination(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", `<https://127.0.0.1:1/repos/o/r/releases?page=2>; rel="next"`)
		w.Write([]byte(`[{"tag_name":"v6.4.1","tarball_url":"https://api.example.com/repos/o/r/tarball/v6.4.1"}]`))
	}))
	defer srv.Close()
	feed := &GitHubFeed{BaseURL: "https://api.example.com/repos/o/r", Client: anyHostClient(srv)}
	_, err := feed.Releases(context.Background())
	if err == nil || !strings.Contains(err.Error(), "pagination") || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("err = %v, want the loopback next page refused", err)
	}
}
