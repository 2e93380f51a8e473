package updater

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

const testRepoPath = "/repos/auth0/ad-ldap-connector"

// feedServer serves testdata/releases.json at /repos/auth0/ad-ldap-connector
// and checks the request headers GitHub expects.
type feedServer struct {
	*httptest.Server
	hits atomic.Int32
}

func (s *feedServer) feedURL() string { return s.URL + testRepoPath }

func newFeedServer(t *testing.T, fixture string) *feedServer {
	t.Helper()
	data, err := os.ReadFile("testdata/" + fixture)
	if err != nil {
		t.Fatal(err)
	}
	fs := &feedServer{}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.hits.Add(1)
		if got := r.Header.Get("Accept"); got != "application/vnd.github+json" {
			t.Errorf("Accept = %q", got)
		}
		if got := r.Header.Get("User-Agent"); got == "" || strings.HasPrefix(got, "Go-http-client") {
			t.Errorf("User-Agent = %q, want ours", got)
		}
		if r.URL.Path != testRepoPath+"/releases" {
			http.NotFound(w, r)
			return
		}
		if got := r.URL.Query().Get("per_page"); got != "100" {
			t.Errorf("per_page = %q, want 100", got)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, strings.ReplaceAll(string(data), "{{BASE}}", fs.URL))
	}))
	t.Cleanup(fs.Close)
	return fs
}

func TestGitHubFeedLatest(t *testing.T) {
	srv := newFeedServer(t, "releases.json")
	f := &GitHubFeed{BaseURL: srv.feedURL(), Client: srv.Client()}
	ctx := context.Background()

	// Stable: the draft v7.0.0, the prereleases and "nightly" are skipped;
	// v5.9.9 is the newest by date but 6.4.1 is the highest version.
	r, err := Latest(ctx, f, ChannelStable)
	if err != nil {
		t.Fatal(err)
	}
	if r.Tag != "v6.4.1" || r.Version.String() != "6.4.1" || r.Prerelease || r.Draft {
		t.Fatalf("Latest(stable) = %+v, want v6.4.1", r)
	}
	if r.TarballURL != srv.URL+"/tarball/v6.4.1" || len(r.Assets) != 2 || r.PublishedAt.IsZero() {
		t.Errorf("Latest(stable) fields not parsed: %+v", r)
	}
	a := r.Assets[0]
	if a.Name != "adldap-v6.4.1.msi" || a.Size != 300 || !strings.HasPrefix(a.Digest, "sha256:3333") || a.URL != srv.URL+"/download/v6.4.1/adldap-v6.4.1.msi" {
		t.Errorf("asset not parsed: %+v", a)
	}

	// "" means stable.
	if r, err := Latest(ctx, f, ""); err != nil || r.Tag != "v6.4.1" {
		t.Errorf("Latest(\"\") = %v, %v; want v6.4.1", r, err)
	}

	// Prerelease channel: 6.6.0-beta.1 (not flagged on GitHub, but a
	// semver prerelease) beats 6.5.0-rc.1; the draft 7.0.0 still never.
	r, err = Latest(ctx, f, ChannelPrerelease)
	if err != nil {
		t.Fatal(err)
	}
	if r.Tag != "v6.6.0-beta.1" || !r.Prerelease {
		t.Fatalf("Latest(prerelease) = %s (prerelease=%v), want v6.6.0-beta.1", r.Tag, r.Prerelease)
	}

	if _, err := Latest(ctx, f, Channel("nightly")); err == nil {
		t.Error("Latest with an unknown channel: want error")
	}
}

func TestGitHubFeedLatestNoStable(t *testing.T) {
	srv := jsonServer(t, http.StatusOK, `[
		{"tag_name":"v7.0.0","draft":true},
		{"tag_name":"v6.5.0-rc.1","prerelease":true},
		{"tag_name":"nightly"}
	]`)
	f := &GitHubFeed{BaseURL: srv.URL + testRepoPath}
	_, err := Latest(context.Background(), f, ChannelStable)
	if !errors.Is(err, ErrReleaseNotFound) || !strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("err = %v, want ErrReleaseNotFound naming the feed", err)
	}
	r, err := Latest(context.Background(), f, ChannelPrerelease)
	if err != nil || r.Tag != "v6.5.0-rc.1" {
		t.Fatalf("Latest(prerelease) = %v, %v", r, err)
	}
	// An empty feed is "not found", never "up to date".
	srv = jsonServer(t, http.StatusOK, `[]`)
	f = &GitHubFeed{BaseURL: srv.URL + testRepoPath}
	if _, err := Latest(context.Background(), f, ChannelPrerelease); !errors.Is(err, ErrReleaseNotFound) {
		t.Fatalf("empty feed: err = %v", err)
	}
}

func TestGitHubFeedRelease(t *testing.T) {
	srv := newFeedServer(t, "releases.json")
	f := &GitHubFeed{BaseURL: srv.feedURL() + "/", UserAgent: "adldapctl-test/1"}
	ctx := context.Background()
	for _, tc := range []struct{ in, wantTag string }{
		{"6.4.1", "v6.4.1"},
		{"v6.4.1", "v6.4.1"},
		{"6.4.1.0", "v6.4.1"},
		{"6.4", "6.4.0"},              // tag without "v"; 6.4 == 6.4.0
		{"v6.4.0", "6.4.0"},           // "v" given, tag without
		{"6.5.0-rc.1", "v6.5.0-rc.1"}, // prereleases are found when asked by version
		{"5.9.9", "v5.9.9"},
	} {
		r, err := f.Release(ctx, tc.in)
		if err != nil {
			t.Errorf("Release(%q): %v", tc.in, err)
			continue
		}
		if r.Tag != tc.wantTag {
			t.Errorf("Release(%q) = %s, want %s", tc.in, r.Tag, tc.wantTag)
		}
	}
	// Drafts are never returned, even by exact version.
	for _, v := range []string{"7.0.0", "6.3.0", "6.5.0"} {
		_, err := f.Release(ctx, v)
		if !errors.Is(err, ErrReleaseNotFound) || !strings.Contains(err.Error(), v) {
			t.Errorf("Release(%q) err = %v, want ErrReleaseNotFound naming the version", v, err)
		}
	}
	before := srv.hits.Load()
	if _, err := f.Release(ctx, "nightly"); err == nil || errors.Is(err, ErrReleaseNotFound) {
		t.Errorf("Release(\"nightly\") err = %v, want a version parse error", err)
	}
	if srv.hits.Load() != before {
		t.Error("an invalid version must be refused before asking the feed")
	}
}

func TestGitHubFeedReleases(t *testing.T) {
	srv := newFeedServer(t, "releases.json")
	f := &GitHubFeed{BaseURL: srv.feedURL()}
	rels, err := f.Releases(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rels {
		got = append(got, r.Tag)
	}
	want := "v6.6.0-beta.1 v6.5.0-rc.1 v6.4.1 6.4.0 v5.9.9"
	if strings.Join(got, " ") != want {
		t.Fatalf("Releases = %v, want %s (no draft, no non-version tag, newest version first)", got, want)
	}
}

func TestGitHubFeedPagination(t *testing.T) {
	var srvURL string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("page") {
		case "":
			w.Header().Set("Link", fmt.Sprintf(`<%s%s/releases?per_page=100&page=2>; rel="next", <%s%s/releases?per_page=100&page=2>; rel="last"`, srvURL, testRepoPath, srvURL, testRepoPath))
			fmt.Fprint(w, `[{"tag_name":"v6.4.1"}]`)
		case "2":
			fmt.Fprint(w, `[{"tag_name":"v3.0.0"}]`)
		default:
			t.Errorf("unexpected page %q", r.URL.RawQuery)
		}
	}))
	defer srv.Close()
	srvURL = srv.URL
	f := &GitHubFeed{BaseURL: srv.URL + testRepoPath}
	r, err := f.Release(context.Background(), "3.0.0")
	if err != nil || r.Tag != "v3.0.0" {
		t.Fatalf("Release on page 2 = %v, %v", r, err)
	}
	rels, err := f.Releases(context.Background())
	if err != nil || len(rels) != 2 {
		t.Fatalf("Releases over two pages = %d, %v", len(rels), err)
	}
}

func TestGitHubFeedPaginationRefusesHTTPNext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", `<http://evil.example/repos/o/r/releases?page=2>; rel="next"`)
		fmt.Fprint(w, `[{"tag_name":"v6.4.1"}]`)
	}))
	defer srv.Close()
	f := &GitHubFeed{BaseURL: srv.URL + testRepoPath}
	_, err := f.Releases(context.Background())
	if err == nil || !strings.Contains(err.Error(), "https") {
		t.Fatalf("err = %v, want refusal of the http next page", err)
	}
}

func jsonServer(t *testing.T, status int, body string, headers ...string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestGitHubFeedErrors(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL + testRepoPath
	closed.Close()

	for _, tc := range []struct {
		name    string
		base    func(t *testing.T) string
		want    []string // substrings; the feed URL is always required
		notWant string
	}{
		{
			name: "404",
			base: func(t *testing.T) string {
				return jsonServer(t, 404, `{"message":"Not Found"}`).URL + testRepoPath
			},
			want: []string{"not found", "404", "--feed"},
		},
		{
			name: "500",
			base: func(t *testing.T) string {
				return jsonServer(t, 500, `oops`).URL + testRepoPath
			},
			want: []string{"500"},
		},
		{
			name: "rate limit",
			base: func(t *testing.T) string {
				return jsonServer(t, 403, `{"message":"API rate limit exceeded for 1.2.3.4."}`,
					"X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "1767225600").URL + testRepoPath
			},
			want: []string{"rate limit", "403", "2026-01-01T00:00:00Z", "mirror"},
		},
		{
			name: "429",
			base: func(t *testing.T) string {
				return jsonServer(t, 429, `{}`, "Retry-After", "60").URL + testRepoPath
			},
			want: []string{"rate limit", "429", "60 seconds"},
		},
		{
			name: "403 other",
			base: func(t *testing.T) string {
				return jsonServer(t, 403, `{"message":"Resource protected by organization SAML enforcement."}`).URL + testRepoPath
			},
			want:    []string{"403", "SAML"},
			notWant: "rate limit",
		},
		{
			name: "not JSON",
			base: func(t *testing.T) string {
				return jsonServer(t, 200, `<html>captive portal</html>`).URL + testRepoPath
			},
			want: []string{"not GitHub release JSON"},
		},
		{
			name: "JSON object instead of list",
			base: func(t *testing.T) string {
				return jsonServer(t, 200, `{"tag_name":"v6.4.1"}`).URL + testRepoPath
			},
			want: []string{"not GitHub release JSON"},
		},
		{
			name: "unreachable",
			base: func(t *testing.T) string { return closedURL },
			want: []string{"cannot be reached"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := tc.base(t)
			f := &GitHubFeed{BaseURL: base}
			for _, call := range []func() error{
				func() error { _, err := Latest(context.Background(), f, ChannelStable); return err },
				func() error { _, err := f.Release(context.Background(), "6.4.1"); return err },
				func() error { _, err := f.Releases(context.Background()); return err },
			} {
				err := call()
				if err == nil {
					t.Fatal("want error, got nil (a broken feed must never look like \"up to date\")")
				}
				if errors.Is(err, ErrReleaseNotFound) {
					t.Errorf("err %v must not be ErrReleaseNotFound", err)
				}
				msg := err.Error()
				for _, w := range append(tc.want, base+"/releases") {
					if !strings.Contains(msg, w) {
						t.Errorf("error %q does not contain %q", msg, w)
					}
				}
				if tc.notWant != "" && strings.Contains(msg, tc.notWant) {
					t.Errorf("error %q contains %q", msg, tc.notWant)
				}
			}
		})
	}
}

func TestGitHubFeedRefusesBadBaseURL(t *testing.T) {
	for _, base := range []string{
		"http://example.com/repos/auth0/ad-ldap-connector",
		"https://mirror.example.com/adldap",
		"",
	} {
		f := &GitHubFeed{BaseURL: base, Client: &http.Client{Transport: failTransport{t}}}
		if _, err := Latest(context.Background(), f, ChannelStable); err == nil {
			t.Errorf("BaseURL %q accepted", base)
		}
	}
}

func TestGitHubFeedRefusesDowngradeRedirect(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://evil.example/releases", http.StatusFound)
	}))
	defer srv.Close()
	f := &GitHubFeed{BaseURL: srv.URL + testRepoPath}
	_, err := f.Releases(context.Background())
	if err == nil || !strings.Contains(err.Error(), "use https://") {
		t.Fatalf("err = %v, want refusal of the http redirect", err)
	}
}

func TestGitHubFeedContextCancelled(t *testing.T) {
	srv := newFeedServer(t, "releases.json")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := &GitHubFeed{BaseURL: srv.feedURL()}
	if _, err := Latest(ctx, f, ChannelStable); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// failTransport fails the test if any request is made.
type failTransport struct{ t *testing.T }

func (f failTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.t.Errorf("unexpected request to %s", r.URL)
	return nil, errors.New("no requests expected")
}

func TestMSIArtifact(t *testing.T) {
	digest := "sha256:" + strings.Repeat("AB", 32)
	for _, tc := range []struct {
		name    string
		rel     Release
		want    string
		wantErr string
	}{
		{
			name: "exact",
			rel: Release{Tag: "v6.4.1", Assets: []Asset{
				{Name: "other.msi"}, {Name: "adldap-v6.4.1.msi", URL: "u", Size: 7, Digest: digest},
			}},
			want: "adldap-v6.4.1.msi",
		},
		{
			name: "tag without v",
			rel:  Release{Tag: "6.4.0", Assets: []Asset{{Name: "x.msi"}, {Name: "ADLDAP-V6.4.0.MSI", Digest: digest}}},
			want: "ADLDAP-V6.4.0.MSI",
		},
		{
			name: "single msi fallback",
			rel:  Release{Tag: "v6.4.1", Assets: []Asset{{Name: "notes.txt"}, {Name: "Setup.msi", Digest: digest}}},
			want: "Setup.msi",
		},
		{
			name:    "none",
			rel:     Release{Tag: "v6.4.1", Assets: []Asset{{Name: "notes.txt"}}},
			wantErr: "no MSI asset (expected adldap-v6.4.1.msi)",
		},
		{
			name:    "ambiguous",
			rel:     Release{Tag: "v6.4.1", Assets: []Asset{{Name: "a.msi"}, {Name: "b.msi"}}},
			wantErr: "several MSI assets (a.msi, b.msi)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if v, err := ParseVersion(tc.rel.Tag); err == nil {
				tc.rel.Version = v
			}
			a, err := tc.rel.MSIArtifact()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.Name != tc.want {
				t.Fatalf("name = %q, want %q", a.Name, tc.want)
			}
			if a.SHA256 != strings.Repeat("ab", 32) {
				t.Errorf("SHA256 = %q, want lower-case hex without prefix", a.SHA256)
			}
		})
	}
}

func TestMSIArtifactFromFeed(t *testing.T) {
	srv := newFeedServer(t, "releases.json")
	f := &GitHubFeed{BaseURL: srv.feedURL()}
	r, err := f.Release(context.Background(), "6.4.1")
	if err != nil {
		t.Fatal(err)
	}
	a, err := r.MSIArtifact()
	if err != nil {
		t.Fatal(err)
	}
	want := Artifact{Name: "adldap-v6.4.1.msi", URL: srv.URL + "/download/v6.4.1/adldap-v6.4.1.msi", Size: 300, SHA256: strings.Repeat("3", 64)}
	if a != want {
		t.Fatalf("MSIArtifact = %+v, want %+v", a, want)
	}
	// 6.4.0's only MSI has no digest.
	r, err = f.Release(context.Background(), "6.4.0")
	if err != nil {
		t.Fatal(err)
	}
	a, err = r.MSIArtifact()
	if err != nil || a.Name != "connector-setup.msi" || a.SHA256 != "" {
		t.Fatalf("MSIArtifact(6.4.0) = %+v, %v; want connector-setup.msi without digest", a, err)
	}
}

func TestSourceArtifact(t *testing.T) {
	r := &Release{Tag: "v6.4.1", TarballURL: "https://api.github.com/repos/auth0/ad-ldap-connector/tarball/v6.4.1"}
	a := r.SourceArtifact()
	want := Artifact{Name: "ad-ldap-connector-v6.4.1.tar.gz", URL: r.TarballURL}
	if a != want {
		t.Fatalf("SourceArtifact = %+v, want %+v", a, want)
	}
	// A hostile tag must not turn the file name into a path.
	for _, tag := range []string{"../../etc/x", `a/b\c`, "v1:2"} {
		n := (&Release{Tag: tag}).SourceArtifact().Name
		if err := checkArtifactName(n); err != nil {
			t.Errorf("tag %q gives name %q: %v", tag, n, err)
		}
	}
	if n := (&Release{Tag: `a/b\c`}).SourceArtifact().Name; strings.ContainsAny(n, `/\`) {
		t.Errorf("name %q contains a separator", n)
	}
}

func TestDigestHex(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"sha256:ABCDEF", "abcdef"},
		{"SHA256:abc", "abc"},
		{"sha512:abc", ""},
		{"", ""},
		{"abc", ""},
	} {
		if got := digestHex(tc.in); got != tc.want {
			t.Errorf("digestHex(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
