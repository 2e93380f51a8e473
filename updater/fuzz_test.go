package updater

import (
	"context"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzFeeds are the GitHub feeds FuzzGitHubReleases reads a page as: the
// public one, GitHub Enterprise, a loopback test stand-in.
var fuzzFeeds = []string{
	DefaultFeedURL,
	"https://ghe.example.com/api/v3/repos/o/r",
	"http://127.0.0.1:8080/repos/o/r",
}

// FuzzGitHubReleases feeds arbitrary bytes to the parser of GitHub's
// /releases JSON. It must never panic, and no artifact any feed hands out
// for what it parsed may point anywhere but an https URL (http only from
// a loopback feed to a loopback host), nor carry an unsafe file name.
func FuzzGitHubReleases(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		rels, err := parseGitHubReleases(data)
		if err != nil {
			return
		}
		for _, base := range fuzzFeeds {
			feed := &GitHubFeed{BaseURL: base}
			for _, r := range rels {
				if r == nil || r.Version == nil {
					t.Fatalf("parsed a release without a version: %+v", r)
				}
				for _, goos := range []string{"linux", "windows"} {
					a, err := feed.Artifact(r, goos)
					if err != nil {
						continue
					}
					checkFuzzRemoteArtifact(t, base, a)
				}
			}
		}
	})
}

// checkFuzzRemoteArtifact is an oracle written apart from
// CheckArtifactOrigin: it says from first principles where an artifact
// of the remote feed base may be.
func checkFuzzRemoteArtifact(t *testing.T, base string, a Artifact) {
	t.Helper()
	if a.Feed != base {
		t.Fatalf("artifact %+v: Feed is not %s", a, base)
	}
	if err := checkArtifactName(a.Name); err != nil {
		t.Fatalf("feed %s handed out an unsafe name: %v", base, err)
	}
	local := func(h string) bool {
		h = strings.TrimSuffix(strings.ToLower(h), ".")
		if i := strings.IndexByte(h, '%'); i >= 0 {
			h = h[:i]
		}
		ip := net.ParseIP(h)
		return h == "localhost" || strings.HasSuffix(h, ".localhost") || ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
	}
	b, _ := url.Parse(base)
	u, err := url.Parse(a.URL)
	if err != nil {
		t.Fatalf("feed %s handed out %q, which does not parse: %v", base, a.URL, err)
	}
	if strings.ContainsFunc(a.URL, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		t.Fatalf("feed %s handed out %q, with spaces or control characters", base, a.URL)
	}
	host := u.Hostname()
	switch {
	case host == "":
		t.Fatalf("feed %s handed out %q, without a host", base, a.URL)
	case u.Scheme == "https" && (!local(host) || local(b.Hostname())):
	case u.Scheme == "http" && local(host) && local(b.Hostname()):
	default:
		t.Fatalf("feed %s handed out %q", base, a.URL)
	}
}

// FuzzMirrorMeta feeds arbitrary bytes to the releases.json parser as if
// their signature had checked out. It must never panic; what it accepts
// passes validate() and the expiry bounds, and every artifact it leads to
// lies inside the mirror, remote or local.
func FuzzMirrorMeta(f *testing.F) {
	localBase := filepath.Join(f.TempDir(), "mirror")
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseMirrorMeta(data, mtNow)
		if err != nil {
			return
		}
		if err := m.validate(); err != nil {
			t.Fatalf("accepted metadata fails validate: %v", err)
		}
		if !mtNow.Before(m.Expires) || m.Expires.Sub(mtNow) > MaxMirrorValidity {
			t.Fatalf("accepted expiry %s (now %s)", m.Expires, mtNow)
		}
		for _, base := range []string{"https://mirror.example.com/adldap", "http://127.0.0.1:8080/m", localBase} {
			feed := &MirrorFeed{Base: base, meta: m}
			rels, err := feed.Releases(context.Background())
			if err != nil {
				t.Fatalf("mirror %s: Releases of accepted metadata: %v", base, err)
			}
			for _, r := range rels {
				var arts []Artifact
				for _, goos := range []string{"linux", "windows"} {
					if a, err := feed.Artifact(r, goos); err == nil {
						arts = append(arts, a)
					}
				}
				for _, b := range r.Bundles {
					if a, err := feed.BundleArtifact(r, b); err == nil {
						arts = append(arts, a)
					}
				}
				for _, a := range arts {
					if a.Trust != TrustSignature || len(a.SHA256) != 64 || a.Size <= 0 || checkArtifactName(a.Name) != nil {
						t.Fatalf("mirror %s: artifact %+v", base, a)
					}
					if base == localBase {
						rel, err := filepath.Rel(localBase, a.URL)
						if err != nil || !filepath.IsLocal(rel) {
							t.Fatalf("mirror %s: artifact %q outside it", base, a.URL)
						}
						continue
					}
					if !strings.HasPrefix(a.URL, base+"/") {
						t.Fatalf("mirror %s: artifact %q outside it", base, a.URL)
					}
					u, err := url.Parse(a.URL)
					if err != nil || u.Host != strings.SplitN(strings.TrimPrefix(strings.TrimPrefix(base, "https://"), "http://"), "/", 2)[0] ||
						!strings.HasPrefix(u.Path, strings.TrimPrefix(base[strings.Index(base, "://")+3:], u.Host)+"/") {
						t.Fatalf("mirror %s: artifact %q (path %q) outside it: %v", base, a.URL, u.Path, err)
					}
					for _, seg := range strings.Split(u.Path, "/") {
						if seg == ".." || seg == "." {
							t.Fatalf("mirror %s: artifact %q has a dot segment", base, a.URL)
						}
					}
				}
			}
		}
	})
}
