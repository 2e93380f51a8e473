//go:build linux

package postinstall

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/scrypt"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/internal/testbed"
	"github.com/adldapctl/adldapctl/platform"
)

// ldapEnv is an Env for a connector configured with cfg, on a platform
// rooted in a temp dir (an empty OS trust store: only caFiles are trusted).
func ldapEnv(t *testing.T, cfg map[string]any, caFiles ...string) *Env {
	t.Helper()
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := connector.ParseConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	p, err := platform.DetectWith(platform.DetectOptions{Root: t.TempDir(), GOOS: "linux"})
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Platform: p, Config: c, CAFiles: caFiles}
}

// slapdConfig is config.json for the test directory: OpenLDAP has neither
// sAMAccountName nor AD's in-chain matching rule, so the queries are set as
// an OpenLDAP site sets them.
func slapdConfig(url, user, pass string) map[string]any {
	return map[string]any{
		"LDAP_URL":                      url,
		"LDAP_BASE":                     testbed.SlapdBase,
		"LDAP_BIND_USER":                user,
		"LDAP_BIND_PASSWORD":            pass,
		"LDAP_SEARCH_ALL_QUERY":         "(objectClass=inetOrgPerson)",
		"LDAP_USER_BY_NAME":             "(uid={0})",
		"LDAP_SEARCH_GROUPS":            "(member={0})",
		"LDAP_SEARCH_LIST_GROUPS_QUERY": "(objectClass=groupOfNames)",
	}
}

func runCheck(t *testing.T, c Check, env *Env) Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := c.Run(ctx, env)
	t.Logf("%s: %s: %s | %s | %v", c.ID(), out.Status, out.Diagnosis, out.Remediation, out.Detail)
	return out
}

func expect(t *testing.T, out Outcome, st Status, words ...string) {
	t.Helper()
	if out.Status != st {
		t.Errorf("status %s, want %s: %s", out.Status, st, out.Diagnosis)
	}
	for _, w := range words {
		if !strings.Contains(out.Diagnosis, w) {
			t.Errorf("diagnosis %q does not name %q", out.Diagnosis, w)
		}
	}
}

func TestLDAPChecksAgainstSlapd(t *testing.T) {
	s := testbed.StartSlapd(t)
	good := slapdConfig(s.URL, testbed.SlapdServiceDN, testbed.SlapdServicePass)

	t.Run("reach/pass-plain", func(t *testing.T) {
		out := runCheck(t, ldapReach{}, ldapEnv(t, good))
		expect(t, out, Pass, "answers plain LDAP", "StartTLS: offered, but the certificate is not trusted", "adldapctl slapd test CA")
		out = runCheck(t, ldapReach{}, ldapEnv(t, good, s.CAFile))
		expect(t, out, Pass, "StartTLS: offered, certificate trusted")
	})
	t.Run("reach/pass-ldaps", func(t *testing.T) {
		out := runCheck(t, ldapReach{}, ldapEnv(t, slapdConfig(s.LDAPSURL, testbed.SlapdServiceDN, testbed.SlapdServicePass), s.CAFile))
		expect(t, out, Pass, "over TLS", "trusted")
	})
	t.Run("reach/warn-cert-expires-soon", func(t *testing.T) {
		env := ldapEnv(t, slapdConfig(s.LDAPSURL, testbed.SlapdServiceDN, testbed.SlapdServicePass), s.CAFile)
		env.Now = func() time.Time { return time.Now().Add(360 * 24 * time.Hour) } // the test certificate lives 365 days
		out := runCheck(t, ldapReach{}, env)
		expect(t, out, Warn, "expires in 4 day(s)")
	})
	t.Run("reach/fail-untrusted-cert", func(t *testing.T) {
		out := runCheck(t, ldapReach{}, ldapEnv(t, slapdConfig(s.LDAPSURL, testbed.SlapdServiceDN, testbed.SlapdServicePass)))
		expect(t, out, Fail, "not trusted", "SELF_SIGNED_CERT_IN_CHAIN", "adldapctl slapd test CA", "phase: TLS")
		if !strings.Contains(out.Remediation, "adldapctl certs import") {
			t.Errorf("remediation %q does not name adldapctl certs import", out.Remediation)
		}
	})
	t.Run("reach/fail-ldaps-on-plain-port", func(t *testing.T) {
		out := runCheck(t, ldapReach{}, ldapEnv(t, slapdConfig(strings.Replace(s.URL, "ldap://", "ldaps://", 1), "", ""), s.CAFile))
		expect(t, out, Fail, "does not speak TLS", "phase: TLS")
	})
	t.Run("reach/pass-ldaps-ssl-ca-path", func(t *testing.T) {
		cfg := slapdConfig(s.LDAPSURL, testbed.SlapdServiceDN, testbed.SlapdServicePass)
		cfg["SSL_CA_PATH"] = "customcas"
		env := ldapEnv(t, cfg)
		copyFile(t, s.CAFile, filepath.Join(env.Platform.Paths.InstallDir, "customcas", "corp-ca.pem"))
		out := runCheck(t, ldapReach{}, env)
		expect(t, out, Pass, "SSL_CA_PATH customcas")
	})
	t.Run("reach/pass-ldaps-os-store", func(t *testing.T) {
		env := ldapEnv(t, slapdConfig(s.LDAPSURL, testbed.SlapdServiceDN, testbed.SlapdServicePass))
		certs := platform.TrustLayoutFor(env.Platform.Family).CertsDir
		copyFile(t, s.CAFile, filepath.Join(env.Platform.Root, certs, "corp-ca.pem"))
		out := runCheck(t, ldapReach{}, env)
		expect(t, out, Pass, "the OS store "+certs)
	})
	t.Run("bind/pass-encrypted-credentials", func(t *testing.T) {
		cfg := slapdConfig(s.URL, testbed.SlapdServiceDN, "")
		delete(cfg, "LDAP_BIND_PASSWORD")
		key := []byte("-----BEGIN PRIVATE KEY-----\ntest key for the connector\n-----END PRIVATE KEY-----\n")
		cfg["LDAP_BIND_CREDENTIALS"] = encryptV2(t, testbed.SlapdServicePass, key)
		env := ldapEnv(t, cfg)
		writeFile(t, filepath.Join(env.Platform.Paths.InstallDir, "certs", "cert.key"), key)
		out := runCheck(t, ldapBind{}, env)
		expect(t, out, Pass, "LDAP_BIND_CREDENTIALS")
	})
	t.Run("bind/skip-encrypted-without-cert-key", func(t *testing.T) {
		cfg := slapdConfig(s.URL, testbed.SlapdServiceDN, "")
		delete(cfg, "LDAP_BIND_PASSWORD")
		cfg["LDAP_BIND_CREDENTIALS"] = encryptV2(t, testbed.SlapdServicePass, []byte("k"))
		out := runCheck(t, ldapBind{}, ldapEnv(t, cfg))
		expect(t, out, Skip, "without decrypting", "cert.key")
	})
	t.Run("bind/pass", func(t *testing.T) {
		out := runCheck(t, ldapBind{}, ldapEnv(t, good))
		expect(t, out, Pass, testbed.SlapdServiceDN)
	})
	t.Run("bind/fail-wrong-password", func(t *testing.T) {
		out := runCheck(t, ldapBind{}, ldapEnv(t, slapdConfig(s.URL, testbed.SlapdServiceDN, "wrong-"+testbed.SlapdServicePass)))
		expect(t, out, Fail, "invalid credentials", testbed.SlapdServiceDN)
		if !strings.Contains(out.Remediation, "password") {
			t.Errorf("remediation %q", out.Remediation)
		}
	})
	t.Run("bind/fail-unknown-user", func(t *testing.T) {
		out := runCheck(t, ldapBind{}, ldapEnv(t, slapdConfig(s.URL, "cn=nobody,ou=service,"+testbed.SlapdBase, "x")))
		expect(t, out, Fail, "invalid credentials")
	})
	t.Run("search/pass", func(t *testing.T) {
		out := runCheck(t, ldapSearch{}, ldapEnv(t, good))
		expect(t, out, Pass, testbed.SlapdUserDN, "(uid=alice)", "admins", "staff")
	})
	t.Run("search/pass-ldaps", func(t *testing.T) {
		out := runCheck(t, ldapSearch{}, ldapEnv(t, slapdConfig(s.LDAPSURL, testbed.SlapdServiceDN, testbed.SlapdServicePass), s.CAFile))
		expect(t, out, Pass, "admins")
	})
	t.Run("search/fail-no-group-read", func(t *testing.T) {
		out := runCheck(t, ldapSearch{}, ldapEnv(t, slapdConfig(s.URL, testbed.SlapdNoGroupsDN, testbed.SlapdNoGroupsPass)))
		expect(t, out, Fail, "can read users", "not groups", testbed.SlapdUserDN, "lacks permission to read groups")
		if !strings.Contains(out.Remediation, "read access to the group") {
			t.Errorf("remediation %q", out.Remediation)
		}
	})
	t.Run("search/fail-wrong-base", func(t *testing.T) {
		cfg := slapdConfig(s.URL, testbed.SlapdServiceDN, testbed.SlapdServicePass)
		cfg["LDAP_BASE"] = "ou=nowhere," + testbed.SlapdBase
		out := runCheck(t, ldapSearch{}, ldapEnv(t, cfg))
		expect(t, out, Fail, "ou=nowhere", "does not exist")
	})
	t.Run("search/fail-user-by-name", func(t *testing.T) {
		cfg := slapdConfig(s.URL, testbed.SlapdServiceDN, testbed.SlapdServicePass)
		cfg["LDAP_USER_BY_NAME"] = "(&(objectClass=person)(uid={0})(cn=nobody))"
		out := runCheck(t, ldapSearch{}, ldapEnv(t, cfg))
		expect(t, out, Fail, "LDAP_USER_BY_NAME", "wrong-username")
	})
	t.Run("engine/wrong-password-skips-search-and-hides-it", func(t *testing.T) {
		env := ldapEnv(t, slapdConfig(s.URL, testbed.SlapdServiceDN, "Leak-Me-Not-42"))
		rep, err := Run(context.Background(), env, ldapChecks(), Options{Only: []string{"ldap.reach", "ldap.bind", "ldap.search"}, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]Result{}
		for _, r := range rep.Checks {
			got[r.ID] = r
		}
		if got["ldap.reach"].Status != Pass || got["ldap.bind"].Status != Fail || got["ldap.search"].Status != Skip ||
			!strings.Contains(got["ldap.search"].Diagnosis, "ldap.bind") {
			t.Errorf("statuses: %+v", rep.Checks)
		}
		js, _ := json.Marshal(rep)
		if strings.Contains(string(js), "Leak-Me-Not-42") {
			t.Errorf("the bind password is in the report: %s", js)
		}
	})
}

func TestLDAPReachRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // now nothing listens there
	out := runCheck(t, ldapReach{}, ldapEnv(t, slapdConfig("ldap://"+addr, "", "")))
	expect(t, out, Fail, "refused", addr, "phase: TCP")
}

func TestLDAPDiscoverDnsmasq(t *testing.T) {
	d := testbed.StartDnsmasq(t, []string{"example.test"},
		testbed.SRV{Name: "_ldap._tcp.dc._msdcs.example.test", Target: "dc1.example.test", Port: 389},
		testbed.SRV{Name: "_ldap._tcp.dc._msdcs.example.test", Target: "dc2.example.test", Port: 389})
	env := ldapEnv(t, slapdConfig("ldap://dc1.example.test", "", ""))
	env.Resolver = d.Addr
	out := runCheck(t, ldapDiscover{}, env)
	expect(t, out, Pass, "_ldap._tcp.dc._msdcs.example.test", "dc1.example.test:389", "dc2.example.test:389")
	if out.Detail["ldap_url_host_listed"] != true {
		t.Errorf("LDAP_URL's host not reported as listed: %v", out.Detail)
	}

	// The plain _ldap._tcp record is the fallback.
	d2 := testbed.StartDnsmasq(t, []string{"example.test"}, testbed.SRV{Name: "_ldap._tcp.example.test", Target: "ldap.example.test", Port: 3389})
	env.Resolver = d2.Addr
	out = runCheck(t, ldapDiscover{}, env)
	expect(t, out, Pass, "_ldap._tcp.example.test", "ldap.example.test:3389")
}

func TestLDAPDiscoverNoRecordsWarns(t *testing.T) {
	d := testbed.StartDnsmasq(t, []string{"example.test"})
	env := ldapEnv(t, slapdConfig("ldap://127.0.0.1:389", "", ""))
	env.Resolver = d.Addr
	out := runCheck(t, ldapDiscover{}, env)
	expect(t, out, Warn, "no SRV record", "_ldap._tcp.dc._msdcs.example.test", d.Addr)
}

// silentPeer accepts connections and never answers; it closes them when
// the test ends.
func silentPeer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for {
			select {
			case c := <-conns:
				c.Close()
			default:
				return
			}
		}
	})
	return ln.Addr().String()
}

func TestLDAPSilentPeerFailsFast(t *testing.T) {
	addr := silentPeer(t)
	_, port, _ := net.SplitHostPort(addr)
	for _, scheme := range []string{"ldap", "ldaps"} {
		t.Run(scheme, func(t *testing.T) {
			env := ldapEnv(t, slapdConfig(scheme+"://127.0.0.1:"+port, testbed.SlapdServiceDN, testbed.SlapdServicePass))
			start := time.Now()
			rep, err := Run(context.Background(), env, ldapChecks(), Options{Only: []string{"ldap.reach", "ldap.bind", "ldap.search"}, Timeout: 3 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			if took > 5*time.Second {
				t.Errorf("took %v with a 3s timeout", took)
			}
			for _, r := range rep.Checks {
				t.Logf("%s %s: %s", r.ID, r.Status, r.Diagnosis)
				switch r.ID {
				case "ldap.reach":
					if r.Status != Fail || !strings.Contains(r.Diagnosis, "never") || !strings.Contains(r.Diagnosis, addr) {
						t.Errorf("reach: %s %q", r.Status, r.Diagnosis)
					}
				default:
					if r.Status != Skip || !strings.Contains(r.Diagnosis, "did not pass") {
						t.Errorf("%s: %s %q", r.ID, r.Status, r.Diagnosis)
					}
				}
			}
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, data)
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// encryptV2 stores a password the way the connector's admin console does
// ("$2$" format of lib/crypto.js), for the decrypting side under test.
func encryptV2(t *testing.T, plain string, rawKey []byte) string {
	t.Helper()
	salt, iv := make([]byte, 16), make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		t.Fatal(err)
	}
	if _, err := rand.Read(iv); err != nil {
		t.Fatal(err)
	}
	key, err := scrypt.Key(rawKey, salt, 16384, 8, 1, 32)
	if err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	n := aes.BlockSize - len(plain)%aes.BlockSize
	buf := append([]byte(plain), bytes.Repeat([]byte{byte(n)}, n)...)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(buf, buf)
	return "$2$." + hex.EncodeToString(salt) + "." + hex.EncodeToString(iv) + "." + hex.EncodeToString(buf)
}

func TestLDAPDiscoverSilentDNSWarns(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0") // reads nothing, answers nothing
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	env := ldapEnv(t, slapdConfig("ldap://127.0.0.1:389", "", ""))
	env.Resolver = pc.LocalAddr().String()
	start := time.Now()
	rep, err := Run(context.Background(), env, ldapChecks(), Options{Only: []string{"ldap.discover"}, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %v with a 3s timeout", took)
	}
	r := rep.Checks[0]
	t.Logf("%s %s: %s", r.ID, r.Status, r.Diagnosis)
	if r.Status != Warn || !strings.Contains(r.Diagnosis, env.Resolver) {
		t.Errorf("silent DNS server: %s %q, want a warning naming it", r.Status, r.Diagnosis)
	}
}
