//go:build linux

package testbed

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Interceptor is a running TLS-intercepting squid (see StartInterceptor).
type Interceptor struct {
	URL  string // http://127.0.0.1:PORT (no authentication)
	Addr string
	CA   *x509.Certificate // the CA squid signs its forged certificates with
	Dir  string
	PID  int
}

// StartInterceptor starts squid-openssl on 127.0.0.1 bumping every CONNECT
// (ssl_bump) with a CA of its own generated for the test: clients see a
// certificate for the host they asked for, issued by that CA, as behind a
// corporate inspection proxy. Upstream certificates are not verified (the
// test tenants use private chains). A squid built without OpenSSL (Debian's
// plain squid package) counts as a missing bed: scripts/deps.sh installs
// squid-openssl.
func StartInterceptor(t testing.TB) *Interceptor {
	t.Helper()
	squid := findBinary("squid", "/usr/sbin/squid")
	certgen := findBinary("", "/usr/lib/squid/security_file_certgen", "/usr/lib64/squid/security_file_certgen", "/usr/libexec/squid/security_file_certgen")
	if squid == "" || certgen == "" {
		Missing(t, "squid-openssl (squid with ssl_bump and security_file_certgen; apt-get install squid-openssl, or scripts/deps.sh)")
	}
	if out, err := exec.Command(squid, "-v").CombinedOutput(); err != nil || !strings.Contains(string(out), "--with-openssl") {
		Missing(t, "squid-openssl (the installed squid has no --with-openssl; apt-get install squid-openssl, or scripts/deps.sh)")
	}
	dir := bedDir(t, "bump", 0o755)
	port, addr := loopbackPort(t)

	ca := NewCA(t, "adldapctl test inspection CA")
	keyDER, err := x509.MarshalECPrivateKey(ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	pemData := append(PEM(ca.Cert), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})...)
	if err := os.WriteFile(caFile, pemData, 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "ssl_db")
	if out, err := exec.Command(certgen, "-c", "-s", db, "-M", "4MB").CombinedOutput(); err != nil {
		t.Fatalf("security_file_certgen -c: %v\n%s", err, out)
	}

	runAs := ""
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		for _, name := range []string{"proxy", "nobody"} {
			if u, err := user.Lookup(name); err == nil {
				runAs = name
				uid, _ = strconv.Atoi(u.Uid)
				gid, _ = strconv.Atoi(u.Gid)
				break
			}
		}
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# throwaway TLS-intercepting squid for adldapctl tests")
	p("http_port %s ssl-bump generate-host-certificates=on dynamic_cert_mem_cache_size=4MB tls-cert=%s tls-key=%s", addr, caFile, caFile)
	p("sslcrtd_program %s -s %s -M 4MB", certgen, db)
	p("sslcrtd_children 2 startup=1 idle=1")
	p("tls_outgoing_options flags=DONT_VERIFY_PEER")
	p("sslproxy_cert_error allow all")
	p("acl step1 at_step SslBump1")
	p("ssl_bump peek step1")
	p("ssl_bump bump all")
	p("visible_hostname adldapctl-test-bump")
	squidCommon(p, dir, runAs)
	p("http_access allow all")
	conf := filepath.Join(dir, "squid.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if uid >= 0 {
		err := filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Chown(path, uid, gid)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	out, err := os.Create(filepath.Join(dir, "squid.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(squid, "-N", "-n", "adldapctlbump"+strconv.Itoa(port), "-f", conf)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	pid, exited := startDaemon(t, "squid", cmd)

	s := &Interceptor{URL: "http://" + addr, Addr: addr, CA: ca.Cert, Dir: dir, PID: pid}
	logs := func() string { return (&Squid{Dir: dir}).logs() }
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("intercepting squid exited during startup:\n%s", logs())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("intercepting squid does not accept connections on %s after 30s:\n%s", addr, logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
