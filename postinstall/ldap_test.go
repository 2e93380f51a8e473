package postinstall

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/adldapctl/adldapctl/connector"
)

// adError is a bind error as go-ldap returns it for AD's diagnostic text.
func adError(code uint16, msg string) error {
	return &ldap.Error{ResultCode: code, Err: errors.New(msg)}
}

func TestExplainBindErrorADSubCodes(t *testing.T) {
	const tmpl = "80090308: LdapErr: DSID-0C09042A, comment: AcceptSecurityContext error, data %s, v3839"
	for code, want := range map[string]string{
		"525": "does not exist",
		"52e": "password is wrong",
		"530": "not permitted to log on at this time",
		"531": "not permitted to log on from this workstation",
		"532": "password has expired",
		"533": "disabled",
		"701": "account has expired",
		"773": "must change its password",
		"775": "locked out",
	} {
		why, fix, got := explainBindError(adError(ldap.LDAPResultInvalidCredentials, strings.Replace(tmpl, "%s", code, 1)))
		if got != code || !strings.Contains(why, want) || fix == "" {
			t.Errorf("data %s: code %q, why %q, fix %q; want %q in why", code, got, why, fix, want)
		}
	}
	// Upper-case hex, as some DCs print it.
	if _, _, got := explainBindError(adError(49, strings.Replace(tmpl, "%s", "52E", 1))); got != "52e" {
		t.Errorf("52E decoded as %q", got)
	}
	// OpenLDAP: no sub-code.
	why, fix, code := explainBindError(adError(49, ""))
	if code != "" || !strings.Contains(why, "invalid credentials") || !strings.Contains(fix, "LDAP_BIND_USER") {
		t.Errorf("plain 49: %q %q %q", why, fix, code)
	}
	// Result 8: strong auth required.
	why, fix, _ = explainBindError(adError(ldap.LDAPResultStrongAuthRequired, "00002028: LdapErr: DSID-0C090259, comment: The server requires binds to turn on integrity checking if SSL\\TLS are not already active on the connection, data 0, v4563"))
	if !strings.Contains(why, "strong authentication required") || !strings.Contains(fix, "ldaps://") {
		t.Errorf("result 8: %q %q", why, fix)
	}
}

func TestEscapeAndFillLikeTheConnector(t *testing.T) {
	got := fill("(member:1.2.840.113556.1.4.1941:={0})", escapeFilterValue(`CN=Smith\, John (IT)*,OU=x`))
	want := `(member:1.2.840.113556.1.4.1941:=CN=Smith\5c, John \28IT\29\2a,OU=x)`
	if got != want {
		t.Errorf("got %s want %s", got, want)
	}
	if _, err := ldap.CompileFilter(got); err != nil {
		t.Errorf("escaped filter does not compile: %v", err)
	}
	attrs := placeholderAttrs("(&(objectClass=user)(|(sAMAccountName={0})(UserPrincipalName={0})))")
	if strings.Join(attrs, ",") != "sAMAccountName,UserPrincipalName" {
		t.Errorf("attrs %v", attrs)
	}
}

func TestLDAPDomain(t *testing.T) {
	for _, c := range []struct{ base, host, want string }{
		{"DC=corp,DC=example,DC=com", "", "corp.example.com"},
		{"OU=Users,dc=example,dc=test", "10.0.0.1", "example.test"},
		{"", "dc01.corp.example.com", "corp.example.com"},
		{"o=acme", "127.0.0.1", ""},
	} {
		if got := ldapDomain(c.base, c.host); got != c.want {
			t.Errorf("ldapDomain(%q, %q) = %q, want %q", c.base, c.host, got, c.want)
		}
	}
}

// Vectors made with Node's crypto the way the connector's lib/crypto.js
// encrypts (v2: scryptSync + aes256; v1: EVP_BytesToKey + aes256).
const testCertKey = "-----BEGIN TEST KEY-----\nnot a real key\n-----END TEST KEY-----\n"

func TestDecryptBindCredentials(t *testing.T) {
	got, err := decryptBindCredentials("$2$.00112233445566778899aabbccddeeff.ffeeddccbbaa99887766554433221100.023ec68e645670c2e58bba46f8ec8526", []byte(testCertKey))
	if err != nil || got != "s3cret-Bind!" {
		t.Errorf("v2: %q %v", got, err)
	}
	got, err = decryptBindCredentials("80dcf8f2de8a56c1946ada9241873506", []byte(testCertKey))
	if err != nil || got != "old-Bind!" {
		t.Errorf("v1: %q %v", got, err)
	}
	if _, err := decryptBindCredentials("80dcf8f2de8a56c1946ada9241873506", []byte("another key")); err == nil {
		t.Error("wrong key decrypted")
	}
}

func TestBindCredentialFromEncryptedConfig(t *testing.T) {
	cfg, err := connector.ParseConfig([]byte(`{"LDAP_URL":"ldap://127.0.0.1","LDAP_BIND_USER":"CN=svc","LDAP_BIND_CREDENTIALS":"$2$.00112233445566778899aabbccddeeff.ffeeddccbbaa99887766554433221100.023ec68e645670c2e58bba46f8ec8526","AUTH_CERT_KEY":` + jsonString(testCertKey) + `}`))
	if err != nil {
		t.Fatal(err)
	}
	env := &Env{Config: cfg}
	s, err := ldapConfig(env)
	if err != nil {
		t.Fatal(err)
	}
	c := bindCredential(env, s)
	if c.out != nil || c.password != "s3cret-Bind!" || c.source != "LDAP_BIND_CREDENTIALS" {
		t.Errorf("credential: %+v", c)
	}
	// Without a key and no install folder: skipped, saying why.
	cfg2, _ := connector.ParseConfig([]byte(`{"LDAP_URL":"ldap://127.0.0.1","LDAP_BIND_USER":"CN=svc","LDAP_BIND_CREDENTIALS":"$2$.00.00.00"}`))
	env2 := &Env{Config: cfg2}
	s2, _ := ldapConfig(env2)
	if c := bindCredential(env2, s2); c.out == nil || c.out.Status != Skip || !strings.Contains(c.out.Diagnosis, "without decrypting") {
		t.Errorf("no key: %+v", c.out)
	}
}

func jsonString(s string) string {
	r := strings.NewReplacer("\\", "\\\\", "\"", "\\\"", "\n", "\\n")
	return `"` + r.Replace(s) + `"`
}

func TestLDAPChecksSkipWithoutConfig(t *testing.T) {
	for _, c := range ldapChecks() {
		if out := c.Run(t.Context(), &Env{}); out.Status != Skip {
			t.Errorf("%s without config: %s %q", c.ID(), out.Status, out.Diagnosis)
		}
	}
	cfg, _ := connector.ParseConfig([]byte(`{"LDAP_URL":"http://dc1"}`))
	if out := (ldapReach{}).Run(t.Context(), &Env{Config: cfg}); out.Status != Fail || !strings.Contains(out.Diagnosis, "ldap://") {
		t.Errorf("bad scheme: %s %q", out.Status, out.Diagnosis)
	}
}
