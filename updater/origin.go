package updater

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/adldapctl/adldapctl/internal/redact"
)

// CheckArtifactOrigin reports whether a feed may name artifactURL as one of
// its artifacts. The artifact must be of the feed's own kind:
//
//   - an https:// feed names https:// artifacts on any host (GitHub's
//     api.github.com sends tarballs to codeload.github.com), but never one
//     on a loopback host: a remote feed must not aim adldapctl at a service
//     of the machine it runs on;
//   - an http:// or https:// feed on a loopback host (a test stand-in)
//     also names http:// artifacts on a loopback host;
//   - a local folder (path or file://) names files inside that folder once
//     symbolic links are resolved; a local file (--from) names itself.
//
// Anything else (file:// or a bare path from a remote feed, a foreign
// scheme, plain http to another host, a path outside the folder) is
// refused with an error that wraps ErrVerification and names both, with
// credentials redacted.
func CheckArtifactOrigin(feed, artifactURL string) error {
	reason := artifactOriginProblem(feed, artifactURL)
	if reason == "" {
		return nil
	}
	return fmt.Errorf("%w: feed %s names artifact %s: %s", ErrVerification, redact.URL(feed), redact.URL(artifactURL), reason)
}

// artifactOriginProblem returns why feed may not name artifactURL, or "".
func artifactOriginProblem(feed, artifactURL string) string {
	fRemote, fLocal, err := classifyURL(strings.TrimSpace(feed))
	if err != nil {
		return "the feed itself is not acceptable (" + err.Error() + ")"
	}
	if strings.TrimSpace(artifactURL) != artifactURL || strings.ContainsFunc(artifactURL, isCtl) {
		return "the location has control characters or leading or trailing spaces"
	}
	aRemote, aLocal, err := classifyURL(artifactURL)
	if err != nil {
		return err.Error()
	}
	if aRemote != nil && strings.ContainsFunc(artifactURL, unicode.IsSpace) { // a path may have spaces, a URL not
		return "a URL has no spaces"
	}
	switch {
	case fRemote != nil && aRemote == nil:
		return "a feed served over " + strings.ToLower(fRemote.Scheme) + " may only name https:// artifacts, not local files"
	case fRemote != nil:
		return remoteOriginProblem(fRemote, aRemote)
	case aRemote != nil:
		return "a local feed may only name files inside it, not URLs"
	}
	return localOriginProblem(fLocal, aLocal)
}

// remoteOriginProblem applies the rule for a remote feed (or the first
// request of a redirect chain) to a remote target.
func remoteOriginProblem(feed, target *url.URL) string {
	feedLoop := isLoopbackOrLocalHost(feed.Hostname())
	targetLoop := isLoopbackOrLocalHost(target.Hostname())
	if target.Host == "" || target.Hostname() == "" {
		return "no host"
	}
	switch strings.ToLower(target.Scheme) {
	case "https":
		if targetLoop && !feedLoop {
			return "a remote feed may not name a loopback or unspecified host"
		}
		return ""
	case "http":
		if targetLoop && feedLoop {
			return ""
		}
		return "plain http:// is allowed only when both the feed and the artifact are on a loopback host: use https://"
	}
	return fmt.Sprintf("unsupported scheme %q: use https://", target.Scheme)
}

// localOriginProblem applies the rule for a local feed: a folder names
// files inside it, a file names itself.
func localOriginProblem(feed, artifact string) string {
	fAbs, err := filepath.Abs(feed)
	if err != nil {
		return err.Error()
	}
	aAbs, err := filepath.Abs(artifact)
	if err != nil {
		return err.Error()
	}
	fReal, aReal := realPath(fAbs), realPath(aAbs)
	if fi, err := os.Stat(fReal); err == nil && !fi.IsDir() {
		if sameLocalPath(fReal, aReal) {
			return ""
		}
		return "a file feed names only itself"
	}
	rel, err := filepath.Rel(fReal, aReal)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "it is not inside the feed's folder (symbolic links resolved)"
	}
	return ""
}

// sameLocalPath compares two cleaned absolute paths the way the OS does.
func sameLocalPath(a, b string) bool {
	if a == b {
		return true
	}
	ai, err1 := os.Stat(a)
	bi, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(ai, bi)
}

// realPath resolves the symbolic links of an absolute path. For a path
// that does not exist yet it resolves the longest existing parent and
// keeps the rest as written (Abs has cleaned away any "..").
func realPath(p string) string {
	var rest []string
	for {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(append([]string{r}, rest...)...)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return filepath.Join(append([]string{p}, rest...)...)
		}
		rest = append([]string{filepath.Base(p)}, rest...)
		p = parent
	}
}

// isLoopbackOrLocalHost is isLoopbackHost widened to every spelling that
// reaches this machine: "localhost." and *.localhost names, IPv4-mapped
// loopback, and the unspecified addresses (0.0.0.0, ::).
func isLoopbackOrLocalHost(h string) bool {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	if i := strings.IndexByte(h, '%'); i >= 0 { // IPv6 zone
		h = h[:i]
	}
	ip := net.ParseIP(h)
	return ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
}

func isCtl(r rune) bool { return unicode.IsControl(r) }

// checkRedirectOrigin refuses a redirect that changes the kind of the
// first request's location (a public https download sent to a loopback
// host, or https downgraded to http).
func checkRedirectOrigin(req *http.Request, via []*http.Request) error {
	if len(via) == 0 {
		return nil
	}
	if reason := remoteOriginProblem(via[0].URL, req.URL); reason != "" {
		return fmt.Errorf("redirect from %s to %s refused: %s", via[0].URL.Redacted(), req.URL.Redacted(), reason)
	}
	return nil
}

// refusedRedirectError is a redirect guardRedirects refused. An artifact
// download (Fetch) reports it as a verification failure.
type refusedRedirectError struct{ err error }

func (e *refusedRedirectError) Error() string { return e.err.Error() }
func (e *refusedRedirectError) Unwrap() error { return e.err }
