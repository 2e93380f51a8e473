//go:build linux

package testbed

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The test directory StartSlapd serves. Passwords are test values.
const (
	SlapdBase = "dc=example,dc=test"
	// SlapdServiceDN can bind and read users and groups.
	SlapdServiceDN   = "cn=svc,ou=service," + SlapdBase
	SlapdServicePass = "svc-Pa55"
	// SlapdNoGroupsDN can bind and read users, but groups are invisible to
	// it (an ACL with "none" on ou=groups).
	SlapdNoGroupsDN   = "cn=nogroups,ou=service," + SlapdBase
	SlapdNoGroupsPass = "nogroups-Pa55"
	SlapdGroupsBase   = "ou=groups," + SlapdBase
	// SlapdUserDN is the first user, member of both groups.
	SlapdUserDN = "uid=alice,ou=people," + SlapdBase
)

// Slapd is a running OpenLDAP server (see StartSlapd).
type Slapd struct {
	URL      string // ldap://127.0.0.1:PORT
	LDAPSURL string // ldaps://127.0.0.1:PORT (server certificate from CAFile, for 127.0.0.1 and localhost)
	CAFile   string // PEM of the test CA that issued the server certificate
	Dir      string // config, database, keys, logs
	PID      int
}

// StartSlapd starts slapd on loopback (plain LDAP and LDAPS, StartTLS
// offered on the plain port) from a throwaway slapd.conf and database in a
// temp dir, loaded with a small directory: ou=people (alice, bob:
// inetOrgPerson), ou=groups (admins, staff: groupOfNames with member),
// ou=service (SlapdServiceDN and SlapdNoGroupsDN with their passwords).
// The TLS keys are generated for the test and written only to that dir.
// slapd runs in the foreground and is killed by its pid when the test
// ends. A missing slapd fails the test when CI=true and skips it otherwise.
func StartSlapd(t testing.TB) *Slapd {
	t.Helper()
	slapd := findBinary("slapd", "/usr/sbin/slapd")
	slapadd := findBinary("slapadd", "/usr/sbin/slapadd")
	schema := "/etc/ldap/schema"
	if slapd == "" || slapadd == "" {
		Missing(t, "slapd (apt-get install slapd, or scripts/deps.sh)")
	}
	if _, err := os.Stat(filepath.Join(schema, "inetorgperson.schema")); err != nil {
		Missing(t, "OpenLDAP schema files in "+schema+" (apt-get install slapd)")
	}
	modDir := ""
	for _, d := range []string{"/usr/lib/ldap", "/usr/lib64/openldap", "/usr/lib/openldap"} {
		if _, err := os.Stat(filepath.Join(d, "back_mdb.so")); err == nil {
			modDir = d
			break
		}
	}

	dir, err := os.MkdirTemp("", "adldapctl-slapd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) }) // a temp dir: best effort
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	caPEM, certPEM, keyPEM, err := testServerCert("adldapctl slapd test CA", []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &Slapd{Dir: dir, CAFile: filepath.Join(dir, "ca.pem")}
	files := map[string][]byte{
		"ca.pem": caPEM, "server.pem": certPEM, "server.key": keyPEM,
		"slapd.conf": []byte(renderSlapdConf(dir, schema, modDir)),
		"data.ldif":  []byte(slapdLDIF()),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	conf := filepath.Join(dir, "slapd.conf")
	if out, err := exec.Command(slapadd, "-f", conf, "-l", filepath.Join(dir, "data.ldif")).CombinedOutput(); err != nil {
		t.Fatalf("slapadd: %v\n%s", err, out)
	}

	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	tlsPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s.URL = "ldap://127.0.0.1:" + strconv.Itoa(port)
	s.LDAPSURL = "ldaps://127.0.0.1:" + strconv.Itoa(tlsPort)
	out, err := os.Create(filepath.Join(dir, "slapd.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	// -d 0: foreground, no debug output (errors still go to stderr).
	cmd := exec.Command(slapd, "-d", "0", "-f", conf, "-h", s.URL+"/ "+s.LDAPSURL+"/")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	var exited <-chan struct{}
	s.PID, exited = startDaemon(t, "slapd", cmd)

	deadline := time.Now().Add(20 * time.Second)
	for _, addr := range []string{hostPort(s.URL), hostPort(s.LDAPSURL)} {
		for {
			select {
			case <-exited:
				log, _ := os.ReadFile(filepath.Join(dir, "slapd.out"))
				t.Fatalf("slapd exited during startup:\n%s", log)
			default:
			}
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(filepath.Join(dir, "slapd.out"))
				t.Fatalf("slapd does not accept connections on %s after 20s:\n%s", addr, log)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return s
}

func hostPort(u string) string {
	_, hp, _ := strings.Cut(u, "://")
	return hp
}

func renderSlapdConf(dir, schema, modDir string) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# throwaway slapd for adldapctl tests")
	for _, s := range []string{"core", "cosine", "inetorgperson"} {
		p("include %s", filepath.Join(schema, s+".schema"))
	}
	p("pidfile %s", filepath.Join(dir, "slapd.pid"))
	p("argsfile %s", filepath.Join(dir, "slapd.args"))
	if modDir != "" {
		p("modulepath %s", modDir)
		p("moduleload back_mdb")
	}
	p("TLSCACertificateFile %s", filepath.Join(dir, "ca.pem"))
	p("TLSCertificateFile %s", filepath.Join(dir, "server.pem"))
	p("TLSCertificateKeyFile %s", filepath.Join(dir, "server.key"))
	p("database mdb")
	p("maxsize 16777216")
	p("suffix %q", SlapdBase)
	p("rootdn %q", "cn=admin,"+SlapdBase)
	p("rootpw %s", randomHex(12))
	p("directory %s", filepath.Join(dir, "db"))
	// The root DSE for anyone (as AD allows), passwords only for binds,
	// groups hidden from the nogroups account, everything else for bound
	// users.
	p(`access to dn.base="" by * read`)
	p(`access to attrs=userPassword by self read by anonymous auth by * none`)
	p(`access to dn.subtree=%q by dn.exact=%q none by users read by * none`, SlapdGroupsBase, SlapdNoGroupsDN)
	p(`access to * by users read by anonymous auth by * none`)
	return b.String()
}

func slapdLDIF() string {
	var b strings.Builder
	entry := func(dn string, lines ...string) {
		fmt.Fprintf(&b, "dn: %s\n%s\n\n", dn, strings.Join(lines, "\n"))
	}
	entry(SlapdBase, "objectClass: dcObject", "objectClass: organization", "dc: example", "o: Example Test")
	for _, ou := range []string{"people", "groups", "service"} {
		entry("ou="+ou+","+SlapdBase, "objectClass: organizationalUnit", "ou: "+ou)
	}
	for _, u := range []string{"alice", "bob"} {
		entry("uid="+u+",ou=people,"+SlapdBase, "objectClass: inetOrgPerson", "uid: "+u,
			"cn: "+strings.ToUpper(u[:1])+u[1:], "sn: Test", "mail: "+u+"@example.test", "userPassword: "+u+"-Pa55")
	}
	entry("cn=svc,ou=service,"+SlapdBase, "objectClass: organizationalRole", "objectClass: simpleSecurityObject",
		"cn: svc", "userPassword: "+SlapdServicePass)
	entry("cn=nogroups,ou=service,"+SlapdBase, "objectClass: organizationalRole", "objectClass: simpleSecurityObject",
		"cn: nogroups", "userPassword: "+SlapdNoGroupsPass)
	entry("cn=admins,"+SlapdGroupsBase, "objectClass: groupOfNames", "cn: admins", "member: "+SlapdUserDN)
	entry("cn=staff,"+SlapdGroupsBase, "objectClass: groupOfNames", "cn: staff", "member: "+SlapdUserDN,
		"member: uid=bob,ou=people,"+SlapdBase)
	return b.String()
}

// testServerCert makes a CA and a server certificate it signs for names
// and ips, valid for a year (so that verify does not warn of an expiry), returning PEM blocks.
func testServerCert(caName string, names []string, ips []net.IP) (caPEM, certPEM, keyPEM []byte, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: caName},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
		DNSNames: names, IPAddresses: ips,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}
