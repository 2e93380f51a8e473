package updater

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/adldapctl/adldapctl/internal/redact"
)

// parseErrorReason explains a url.Parse failure without quoting any part
// of the input (url.Parse's own messages can quote pieces of a password).
func parseErrorReason(err error) string {
	var ee url.EscapeError
	if errors.As(err, &ee) {
		return "invalid %-escape: percent-encode special characters in the user name and password (for example @ as %40, % as %25)"
	}
	return "malformed URL: check the host and port, and percent-encode special characters in the user name and password"
}

// IsGitHubFeedURL reports whether u has the shape of a GitHub releases
// feed: an http(s) URL whose path ends in /repos/OWNER/REPO (a trailing
// slash is tolerated). api.github.com, GitHub Enterprise
// (https://ghe.example/api/v3/repos/o/r) and test stand-ins all match; any
// other URL or a directory is a mirror.
func IsGitHubFeedURL(u string) bool {
	if !hasScheme(u) {
		return false
	}
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return false
	}
	if s := strings.ToLower(p.Scheme); s != "https" && s != "http" {
		return false
	}
	parts := strings.Split(strings.TrimSuffix(p.Path, "/"), "/")
	n := len(parts)
	return n >= 4 && parts[n-3] == "repos" && parts[n-2] != "" && parts[n-1] != ""
}

// CheckFeedURL reports whether u is an acceptable place to read releases
// or artifacts from: an https:// URL, a file:// URL or a local path, or
// http:// to a loopback host only (127.0.0.0/8, ::1, localhost). The error
// says what to use instead and never shows a password.
func CheckFeedURL(u string) error {
	_, _, err := classifyURL(u)
	return err
}

// classifyURL applies the CheckFeedURL rule. For a remote URL it returns
// the parsed URL; for a local file it returns its path.
func classifyURL(u string) (remote *url.URL, local string, err error) {
	if strings.TrimSpace(u) == "" {
		return nil, "", errors.New("empty URL: use an https:// URL, a file:// URL or a local path")
	}
	if !hasScheme(u) {
		return nil, u, nil
	}
	p, err := url.Parse(u)
	if err != nil {
		return nil, "", fmt.Errorf("invalid URL %s: %s", redact.URL(u), parseErrorReason(err))
	}
	switch strings.ToLower(p.Scheme) {
	case "https":
		if p.Host == "" {
			return nil, "", fmt.Errorf("invalid URL %s: no host", redact.URL(u))
		}
		return p, "", nil
	case "http":
		if p.Host == "" {
			return nil, "", fmt.Errorf("invalid URL %s: no host", redact.URL(u))
		}
		if !isLoopbackHost(p.Hostname()) {
			return nil, "", fmt.Errorf("refusing plain http to %s: use https:// (http:// is allowed only for localhost, 127.0.0.0/8 and ::1)", redact.URL(u))
		}
		return p, "", nil
	case "file":
		path, err := fileURLPath(p)
		if err != nil {
			return nil, "", err
		}
		return nil, path, nil
	}
	return nil, "", fmt.Errorf("unsupported URL scheme %q in %s: use https://, a file:// URL or a local path", p.Scheme, redact.URL(u))
}

// checkRemote applies the rule to a redirect target.
func checkRemote(u *url.URL) error {
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("refusing plain http to %s: use https:// (http:// is allowed only for localhost, 127.0.0.0/8 and ::1)", u.Redacted())
	}
	return fmt.Errorf("unsupported URL scheme %q in %s", u.Scheme, u.Redacted())
}

// hasScheme reports whether s starts with "scheme://". Strings without
// one (including Windows paths such as C:\mirror or \\server\share) are
// local paths.
func hasScheme(s string) bool {
	i := strings.Index(s, "://")
	if i <= 0 {
		return false
	}
	for j, c := range s[:i] {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case j > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// fileURLPath turns a file:// URL into a local path: file:///opt/x,
// file:///C:/mirror/x (Windows drive), file://server/share/x (UNC, only
// where the OS has UNC paths).
func fileURLPath(u *url.URL) (string, error) {
	p := u.Path
	if p == "" {
		p = u.Opaque
	}
	if p == "" {
		return "", fmt.Errorf("invalid file URL %s: no path", u.Redacted())
	}
	if len(p) >= 3 && p[0] == '/' && isDriveLetter(p[1]) && p[2] == ':' {
		p = p[1:]
	}
	if h := u.Host; h != "" && !strings.EqualFold(h, "localhost") {
		if filepath.Separator == '/' {
			return "", fmt.Errorf("file URL %s names host %q: use a local path or file:///path", u.Redacted(), h)
		}
		p = "//" + h + p
	}
	return filepath.FromSlash(p), nil
}

func isDriveLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// unwrapURLError drops the *url.Error wrapper (whose text repeats the URL,
// password included) and keeps the cause.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
