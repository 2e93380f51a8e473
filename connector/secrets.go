package connector

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/adldapctl/adldapctl/internal/redact"
)

// Redacted replaces a secret value wherever one would be shown.
const Redacted = "<redacted>"

// SecretKeys are the config.json keys whose values never leave the file.
var SecretKeys = []string{
	"PROVISIONING_TICKET", "LDAP_BIND_PASSWORD", "LDAP_BIND_CREDENTIALS",
	"AUTH_CERT_KEY", "SSL_PFX", "SSL_KEY_PASSWORD", "SESSION_SECRET",
	"TENANT_SIGNING_KEY",
}

// IsSecretKey reports whether a config.json key holds a secret.
func IsSecretKey(k string) bool {
	for _, s := range SecretKeys {
		if strings.EqualFold(k, s) {
			return true
		}
	}
	return false
}

// userinfoRe finds URLs with credentials inside free text.
var userinfoRe = regexp.MustCompile(`(?i)[a-z][a-z0-9+.-]*://[^/@\s]*@`)

// Scrubber removes known secret values from free text (logs, npm output).
type Scrubber struct{ secrets []string }

// NewScrubber collects the secret values of c (and any extra ones).
func NewScrubber(c *Config, extra ...string) *Scrubber {
	s := &Scrubber{}
	if c != nil {
		for _, k := range c.keys {
			if IsSecretKey(k) {
				if v := c.String(k); len(v) >= 4 {
					s.secrets = append(s.secrets, v)
				}
			}
		}
		if p := c.String("HTTP_PROXY"); p != "" {
			if u, err := url.Parse(p); err == nil && u.User != nil {
				if pw, ok := u.User.Password(); ok && len(pw) >= 3 {
					s.secrets = append(s.secrets, pw, url.QueryEscape(pw))
				}
			}
		}
	}
	for _, e := range extra {
		if len(e) >= 4 {
			s.secrets = append(s.secrets, e)
		}
	}
	return s
}

// Scrub replaces every secret value in text.
func (s *Scrubber) Scrub(text string) string {
	for _, v := range s.secrets {
		text = strings.ReplaceAll(text, v, Redacted)
	}
	return userinfoRe.ReplaceAllStringFunc(text, redact.URL)
}
