package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adldapctl/adldapctl/internal/testfeed"
)

// TestForeignArtifactURLRefused: an http(s) feed naming a local file, a
// bare path or another scheme as a release's tarball is refused with exit
// 4 before a byte is written; nothing is left in the cache.
func TestForeignArtifactURLRefused(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "shadow")
	os.WriteFile(secret, []byte("root:not-a-real-hash:::\n"), 0o600)
	for _, u := range []string{"file://" + secret, secret, "ftp://127.0.0.1/x.tar.gz", "gopher://127.0.0.1/x"} {
		t.Run(u, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasSuffix(r.URL.Path, "/releases") {
					http.NotFound(w, r)
					return
				}
				json.NewEncoder(w).Encode([]map[string]any{{"tag_name": "v6.4.1", "tarball_url": u, "assets": []any{}}})
			}))
			defer srv.Close()
			root := t.TempDir()
			r := run(t, "--root", root, "--feed", srv.URL+"/repos/auth0/ad-ldap-connector", "install")
			if r.code != ExitVerification {
				t.Errorf("artifact %s: exit %d, want 4\n%s", u, r.code, r.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, "not-a-real-hash") {
				t.Error("the local file's content was printed")
			}
			entries, _ := os.ReadDir(filepath.Join(root, "var/cache/adldapctl"))
			if len(entries) != 0 {
				t.Errorf("the cache holds %d entries after a refusal", len(entries))
			}
		})
	}
}

// TestEndlessDownloadStopsAtCap: a body with no announced size stops at
// --max-download, exit 4, and no partial is kept.
func TestEndlessDownloadStopsAtCap(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/releases"):
			json.NewEncoder(w).Encode([]map[string]any{{"tag_name": "v6.4.1", "tarball_url": srv.URL + "/tarball/v6.4.1", "assets": []any{}}})
		case strings.HasPrefix(r.URL.Path, "/tarball/"):
			w.Header().Set("Content-Type", "application/gzip")
			buf := make([]byte, 32<<10)
			for i := 0; i < 4096; i++ { // 128 MiB at most, flushed so no length is announced
				if _, err := w.Write(buf); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	root := t.TempDir()
	r := run(t, "--root", root, "--feed", srv.URL+"/repos/auth0/ad-ldap-connector", "install", "--max-download", "1048576")
	if r.code != ExitVerification {
		t.Fatalf("exit %d, want 4\n%s", r.code, r.stderr)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "var/cache/adldapctl"))
	for _, e := range entries {
		t.Errorf("left in the cache: %s", e.Name())
	}
}

// TestArchiveOverCapRefused: an archive that unpacks past
// --max-unpacked-size is exit 4 and nothing is installed.
func TestArchiveOverCapRefused(t *testing.T) {
	tarball, err := testfeed.SourceTarball("6.4.1", testfeed.SampleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	art := filepath.Join(t.TempDir(), "ad-ldap-connector-v6.4.1.tar.gz")
	os.WriteFile(art, tarball, 0o644)
	root := t.TempDir()
	r := run(t, "--root", root, "install", "--from", art, "--max-unpacked-size", "512")
	if r.code != ExitVerification || !strings.Contains(r.stderr, "unsafe archive") {
		t.Fatalf("exit %d, want 4 naming an unsafe archive\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(root, "opt/auth0-adldap/server.js")); err == nil {
		t.Error("installed anyway")
	}
}
