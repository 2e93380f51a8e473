// Package redact hides credentials in URLs before they are shown, logged
// or written anywhere. It is the one place that knows how; every other
// package calls it.
package redact

import (
	"net/url"
	"strings"
)

// URL returns s with the password of its userinfo replaced by
// "xxxxx" ("http://user:secret@proxy:3128" becomes
// "http://user:xxxxx@proxy:3128"). It also handles strings that do not
// parse as URLs (a bad %-escape or a stray '/' or '?' in the password, a
// missing scheme), erring towards hiding too much, so it is safe to use in
// the error that reports such a string. Everything else is unchanged.
func URL(s string) string {
	start := 0
	if i := strings.Index(s, "://"); i >= 0 {
		start = i + len("://")
		if u, err := url.Parse(s); err == nil {
			if u.User == nil {
				return s
			}
			if _, ok := u.User.Password(); !ok {
				return s
			}
			end := len(s)
			if i := strings.IndexAny(s[start:], "/?#"); i >= 0 {
				end = start + i
			}
			return redactUserinfo(s, start, end)
		}
	}
	// Unparsable or scheme-less: the password may hold '/', '?' or '#',
	// so take everything up to the last '@' as userinfo.
	return redactUserinfo(s, start, len(s))
}

func redactUserinfo(s string, start, end int) string {
	at := strings.LastIndex(s[start:end], "@")
	if at < 0 {
		return s
	}
	colon := strings.Index(s[start:start+at], ":")
	if colon < 0 {
		return s
	}
	return s[:start+colon+1] + "xxxxx" + s[start+at:]
}
