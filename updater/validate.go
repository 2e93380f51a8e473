package updater

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"
)

// ValidateSHA256Flag checks a --sha256 value before anything is fetched:
// 64 hex digits, in any case, optionally prefixed "sha256:" (as GitHub
// writes digests). Call it only when the flag was given: the empty
// string is refused, so that an unset shell variable (--sha256 "$SUM")
// cannot silently turn the check off.
func ValidateSHA256Flag(s string) error {
	if s == "" {
		return errors.New("--sha256 is empty: give the artifact's SHA-256 as 64 hex digits (optionally prefixed sha256:)")
	}
	hex := s
	if algo, rest, ok := strings.Cut(s, ":"); ok {
		if !strings.EqualFold(algo, "sha256") {
			return fmt.Errorf("--sha256: unsupported digest algorithm %q: give the SHA-256 as 64 hex digits (optionally prefixed sha256:)", algo)
		}
		hex = rest
	}
	if len(hex) != 64 || strings.IndexFunc(hex, func(r rune) bool { return !isHexDigit(r) }) >= 0 {
		return fmt.Errorf("--sha256 %q is not a SHA-256 digest: expected 64 hex digits (optionally prefixed sha256:), got %d characters", s, len(hex))
	}
	return nil
}

func isHexDigit(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F'
}

var (
	ticketPathRe = regexp.MustCompile(`^/p/ad/[A-Za-z0-9_-]+$`)
	ticketHostRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)
)

// ValidateTicketURL checks a provisioning ticket URL (--ticket) before
// anything is fetched or written: https://HOST/p/ad/TICKET, where HOST is
// a DNS name (a port is allowed), TICKET is letters, digits, '_' and '-',
// and there is no user info, query, fragment, trailing slash, space or
// control character. The ticket is a secret: no error quotes it.
//
// (It belongs with the connector's knowledge of config.json; it sits here
// until the connector package offers it.)
func ValidateTicketURL(s string) error {
	const want = "expected https://<tenant host>/p/ad/<ticket>, as shown by the Auth0 dashboard"
	if s == "" {
		return fmt.Errorf("provisioning ticket URL is empty: %s", want)
	}
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar }) {
		return fmt.Errorf("provisioning ticket URL contains a space or control character (a copy-paste accident?): %s", want)
	}
	if strings.ContainsAny(s, "?#") {
		return fmt.Errorf("provisioning ticket URL has a query or fragment: %s", want)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("provisioning ticket URL is malformed: %s", want)
	}
	switch {
	case u.Scheme != "https":
		return fmt.Errorf("provisioning ticket URL must use https://, not %q: %s", u.Scheme, want)
	case u.Opaque != "" || u.Host == "":
		return fmt.Errorf("provisioning ticket URL has no host: %s", want)
	case u.User != nil:
		return fmt.Errorf("provisioning ticket URL must not carry a user name or password: %s", want)
	case !ticketHostRe.MatchString(u.Hostname()):
		return fmt.Errorf("provisioning ticket URL has an invalid host: %s", want)
	case u.RawPath != "" || strings.Contains(s, "%"):
		return fmt.Errorf("provisioning ticket URL must not contain %%-escapes: %s", want)
	case !ticketPathRe.MatchString(u.Path):
		return fmt.Errorf("provisioning ticket URL of %s has the wrong path: %s", u.Host, want)
	}
	return nil
}
