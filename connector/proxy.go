package connector

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/adldapctl/adldapctl/internal/redact"
)

// ProxyKey is the config.json key (and environment variable) the connector
// takes its proxy from; the environment wins over config.json.
const ProxyKey = "HTTP_PROXY"

// ErrBadProxy wraps every reason ParseProxy refuses a URL.
var ErrBadProxy = errors.New("invalid proxy URL")

// ErrPACProxy is returned for a PAC/WPAD script URL: the connector cannot
// use one.
var ErrPACProxy = errors.New("a PAC/WPAD script is not a proxy")

// PACAdvice is what to do instead of giving a PAC file.
const PACAdvice = "the connector cannot use a PAC/WPAD script: open the PAC file, take the proxy host:port it returns (\"PROXY host:port\") and give http://host:port"

// ParseProxy validates a proxy URL for the connector: http or https
// scheme, a host and a port, user name and password percent-encoded, no
// path (a .pac or .dat path is a PAC/WPAD script, refused with advice),
// query or fragment. It returns the URL in canonical form. Errors never
// show the password.
func ParseProxy(s string) (*url.URL, error) {
	red := redact.URL(s)
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w %s: %s", ErrBadProxy, red, fmt.Sprintf(format, a...))
	}
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: empty; give http://host:port", ErrBadProxy)
	}
	if strings.ContainsAny(s, " \t\r\n") || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, bad("it contains a space or control character; percent-encode it (a space is %%20)")
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return nil, bad("no scheme; write it as http://host:port")
	}
	// Userinfo must be percent-encoded: look at what lies before the last
	// '@' of the whole string, as a permissive parser would.
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if err := checkUserinfo(rest[:at]); err != nil {
			return nil, bad("%v", err)
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		reason := "it cannot be parsed"
		if errors.As(err, &ue) && ue.Err != nil {
			reason = "it cannot be parsed (" + redactReason(ue.Err.Error(), s) + ")"
		}
		return nil, bad("%s; percent-encode special characters in the user name and password", reason)
	}
	if isPACPath(u.Path) {
		return nil, fmt.Errorf("%w %s: %w: %s", ErrBadProxy, red, ErrPACProxy, PACAdvice)
	}
	switch strings.ToLower(scheme) {
	case "http", "https":
	default:
		return nil, bad("scheme %q is not supported by the connector; use http:// (or https://)", scheme)
	}
	if u.Hostname() == "" {
		return nil, bad("no host; give http://host:port")
	}
	if u.Port() == "" {
		return nil, bad("no port; give http://host:port (squid listens on 3128 by default)")
	}
	if n, err := strconv.Atoi(u.Port()); err != nil || n < 1 || n > 65535 {
		return nil, bad("port %q is not a number from 1 to 65535", u.Port())
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, bad("a proxy URL has no path, query or fragment; give http://host:port")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Path, u.RawPath = "", ""
	return u, nil
}

// isPACPath reports whether a URL path names a PAC or WPAD script.
func isPACPath(p string) bool {
	p = strings.ToLower(p)
	return strings.HasSuffix(p, ".pac") || strings.HasSuffix(p, ".dat")
}

// IsPACBody reports whether body is a PAC/WPAD script.
func IsPACBody(body []byte) bool { return strings.Contains(string(body), "FindProxyForURL") }

// checkUserinfo allows RFC 3986 userinfo: unreserved, sub-delims, ':' and
// %XX escapes.
func checkUserinfo(ui string) error {
	for i := 0; i < len(ui); i++ {
		c := ui[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:", c) >= 0:
		case c == '%':
			if i+2 >= len(ui) || !isHex(ui[i+1]) || !isHex(ui[i+2]) {
				return errors.New("the user name or password has a '%' that is not a %XX escape; write a literal % as %25")
			}
			i += 2
		default:
			return fmt.Errorf("the user name or password holds %q unencoded; percent-encode it (%%%02X)", c, c)
		}
	}
	return nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// redactReason removes s's password from a parser's message.
func redactReason(msg, s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	if _, rest, ok := strings.Cut(s, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, pw, ok := strings.Cut(rest[:at], ":"); ok && pw != "" {
				msg = strings.ReplaceAll(msg, pw, "xxxxx")
			}
		}
	}
	return msg
}

// ProxyEnv is the service environment that carries proxy to the
// connector (and to what it spawns): HTTP_PROXY and HTTPS_PROXY in both
// cases. An empty proxy gives an empty map.
func ProxyEnv(proxy string) map[string]string {
	env := map[string]string{}
	if proxy != "" {
		for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
			env[k] = proxy
		}
	}
	return env
}
