package updater

import (
	"strings"
	"testing"
)

func TestValidateSHA256Flag(t *testing.T) {
	hex := strings.Repeat("0123456789abcdef", 4)
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{hex, true},
		{strings.ToUpper(hex), true},
		{"sha256:" + hex, true},
		{"SHA256:" + strings.ToUpper(hex), true},
		{"", false},
		{"sha256:", false},
		{hex[:63], false},
		{hex + "0", false},
		{hex[:63] + "g", false},
		{"sha512:" + hex, false},
		{"md5:" + hex[:32], false},
		{" " + hex, false},
		{hex + "\n", false},
		{"sha256: " + hex, false},
		{"garbage", false},
	} {
		if err := ValidateSHA256Flag(tc.in); (err == nil) != tc.ok {
			t.Errorf("ValidateSHA256Flag(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

func TestParseVersionRefusesGarbage(t *testing.T) {
	for _, s := range []string{"garbage", "", " ", "v", "6.4.1 foo", "6..4", "latest"} {
		if v, err := ParseVersion(s); err == nil {
			t.Errorf("ParseVersion(%q) = %s, want an error", s, v)
		}
	}
	for _, s := range []string{"6.4.1", "v6.4.1", "6.4", "6.5.0-rc.1"} {
		if _, err := ParseVersion(s); err != nil {
			t.Errorf("ParseVersion(%q): %v", s, err)
		}
	}
}

func TestValidateTicketURL(t *testing.T) {
	const ticket = "3f9a1c0b7e2d4a6f8b5c1d2e3f4a5b6c"
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"https://contoso.auth0.com/p/ad/" + ticket, true},
		{"https://contoso.eu.auth0.com/p/ad/" + ticket, true},
		{"https://login.contoso.com:8443/p/ad/abc_DEF-123", true},
		{"HTTPS://contoso.auth0.com/p/ad/" + ticket, true},
		{"", false},
		{"http://contoso.auth0.com/p/ad/" + ticket, false},
		{"ftp://contoso.auth0.com/p/ad/" + ticket, false},
		{"contoso.auth0.com/p/ad/" + ticket, false},
		{"https:///p/ad/" + ticket, false},
		{"https://:443/p/ad/" + ticket, false},
		{"https://user:pw@contoso.auth0.com/p/ad/" + ticket, false},
		{"https://@contoso.auth0.com/p/ad/" + ticket, false},
		{"https://contoso.auth0.com/p/ad/", false},
		{"https://contoso.auth0.com/p/ad/" + ticket + "/", false},
		{"https://contoso.auth0.com/p/ad/" + ticket + "/info", false},
		{"https://contoso.auth0.com/p/AD/" + ticket, false},
		{"https://contoso.auth0.com//p/ad/" + ticket, false},
		{"https://contoso.auth0.com/x/p/ad/" + ticket, false},
		{"https://contoso.auth0.com/p/ad/../ad/" + ticket, false},
		{"https://contoso.auth0.com/p/ad/" + ticket + "?x=1", false},
		{"https://contoso.auth0.com/p/ad/" + ticket + "?", false},
		{"https://contoso.auth0.com/p/ad/" + ticket + "#frag", false},
		{"https://contoso.auth0.com/p/ad/" + ticket + "#", false},
		{"https://contoso.auth0.com/p/ad/ab%63d", false},
		{"https://contoso.auth0.com/p/ad/ab.cd", false},
		{"https://contoso.auth0.com/p/ad/ab cd", false},
		{" https://contoso.auth0.com/p/ad/" + ticket, false},
		{"https://contoso.auth0.com/p/ad/" + ticket + "\n", false},
		{"https://contoso.auth0.com/p/ad/" + ticket + "\r", false},
		{"https://contoso.auth0.com/p/ad/ab\x00cd", false},
		{"https://contoso.auth0.com/p/ad/ab\u00a0cd", false},
		{"https://conto so.auth0.com/p/ad/" + ticket, false},
		{"https://contoso_x.auth0.com/p/ad/" + ticket, false},
		{"https://-contoso.auth0.com/p/ad/" + ticket, false},
		{"https://contoso..auth0.com/p/ad/" + ticket, false},
		{"https://[::1]/p/ad/" + ticket, false},
		{"https://contoso.auth0.com:x/p/ad/" + ticket, false},
		{"https://contoso.auth0.com/p/ad/tïcket", false},
	} {
		err := ValidateTicketURL(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateTicketURL(%q) = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if err != nil && strings.Contains(err.Error(), ticket) {
			t.Errorf("ValidateTicketURL(%q): the error shows the ticket: %v", tc.in, err)
		}
	}
}
