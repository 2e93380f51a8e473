package connector

import (
	"strings"
	"testing"

	"github.com/adldapctl/adldapctl/internal/redact"
)

func TestConfigKeepsOrderAndBOM(t *testing.T) {
	in := append(append([]byte{}, BOM...), []byte(`{"LDAP_URL":"ldap://dc","PORT":4000,"nested":{"a":[1,2]}}`)...)
	c, err := ParseConfig(in)
	if err != nil {
		t.Fatal(err)
	}
	if !c.HadBOM {
		t.Error("BOM not reported")
	}
	changed, _ := c.Set("PORT", 4000)
	if changed {
		t.Error("setting the same value reported a change")
	}
	changed, _ = c.Set("PROVISIONING_TICKET", "https://t.example/p/ad/x")
	if !changed {
		t.Error("new key not reported as a change")
	}
	got := string(c.Marshal())
	if strings.HasPrefix(got, string(BOM)) {
		t.Error("BOM written back")
	}
	i1, i2, i3 := strings.Index(got, "LDAP_URL"), strings.Index(got, "PORT"), strings.Index(got, "PROVISIONING_TICKET")
	if !(i1 < i2 && i2 < i3) {
		t.Errorf("order not kept:\n%s", got)
	}
	c2, err := ParseConfig([]byte(got))
	if err != nil || c2.String("PROVISIONING_TICKET") != "https://t.example/p/ad/x" {
		t.Fatalf("round trip: %v %q", err, c2.String("PROVISIONING_TICKET"))
	}
}

func TestConfigInvalid(t *testing.T) {
	for _, in := range []string{`[1]`, `{"a":}`, `{"a":1} x`, `{"a":1`} {
		if _, err := ParseConfig([]byte(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestRedaction(t *testing.T) {
	c, _ := ParseConfig([]byte(`{"PROVISIONING_TICKET":"https://t/p/ad/SECRET1","LDAP_BIND_PASSWORD":"hunter22","HTTP_PROXY":"http://bob:pa55word@proxy:3128","LDAP_URL":"ldap://x"}`))
	r := c.Redacted()
	for _, k := range []string{"PROVISIONING_TICKET", "LDAP_BIND_PASSWORD"} {
		if r[k] != Redacted {
			t.Errorf("%s = %v", k, r[k])
		}
	}
	if s := r["HTTP_PROXY"].(string); strings.Contains(s, "pa55word") || !strings.Contains(s, "bob") {
		t.Errorf("proxy = %s", s)
	}
	if r["LDAP_URL"] != "ldap://x" {
		t.Error("non-secret changed")
	}
	sc := NewScrubber(c)
	out := sc.Scrub("ticket https://t/p/ad/SECRET1 pw hunter22 proxy pa55word")
	for _, s := range []string{"SECRET1", "hunter22", "pa55word"} {
		if strings.Contains(out, s) {
			t.Errorf("scrub left %s: %s", s, out)
		}
	}
	if got := redact.URL("http://u:bad%zzpw@h:1"); strings.Contains(got, "bad%zzpw") {
		t.Errorf("unparsable URL leaked password: %s", got)
	}
}

func TestCustomerPaths(t *testing.T) {
	c, _ := ParseConfig([]byte(`{"PROFILE_MAPPER_FILE":"/opt/auth0-adldap/custom/mapper.js","SSL_CA_PATH":"/opt/auth0-adldap/ca"}`))
	l := Layout{InstallDir: "/opt/auth0-adldap", OS: "linux"}
	got := strings.Join(l.CustomerPaths(c), ",")
	for _, want := range []string{"config.json", "certs", "custom/mapper.js", "lib/profileMapper.js", "ca"} {
		if !strings.Contains(got, want) {
			t.Errorf("%s missing from %s", want, got)
		}
	}
	c2, _ := ParseConfig([]byte(`{"SSL_CA_PATH":"/etc/ssl/certs","PROFILE_MAPPER_FILE":"../../evil.js"}`))
	got = strings.Join(l.CustomerPaths(c2), ",")
	if strings.Contains(got, "etc") || strings.Contains(got, "evil") {
		t.Errorf("outside path listed: %s", got)
	}
}
