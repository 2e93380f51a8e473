//go:build acceptance && linux

package acceptance

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/internal/certs"
	"github.com/adldapctl/adldapctl/internal/certs/certstest"
	"github.com/adldapctl/adldapctl/internal/testbed"
	"github.com/adldapctl/adldapctl/internal/testfeed"
)

// probe asks the sample connector on port to GET its TEST_TLS_PROBE_URL
// with the CAs it read at start.
func probe(port int) (ok bool, code string, err error) {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/tls-probe", port))
	if err != nil {
		return false, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v struct {
		OK   bool   `json:"ok"`
		Code string `json:"code"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return false, "", fmt.Errorf("%v: %s", err, b)
	}
	return v.OK, v.Code, nil
}

func waitProbe(t *testing.T, port int, want bool) string {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	var ok bool
	var code string
	var err error
	for time.Now().Before(deadline) {
		ok, code, err = probe(port)
		if err == nil && ok == want {
			return code
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("sample connector /tls-probe: ok=%v code=%q err=%v, want ok=%v", ok, code, err, want)
	return ""
}

// Acceptance 1 of issue 8: after `certs import` of a test chain, curl,
// openssl s_client -verify_return_error and the sample connector (which
// reads CAs as the real one does: openssl version -d, then <dir>/certs)
// trust a loopback HTTPS server using that chain; after `certs remove`
// they do not.
func TestLinuxCertsImportRemoveOnSystemd(t *testing.T) {
	testbed.RequireRoot(t)
	bin := buildLinux(t)
	feed, err := testfeed.Start("127.0.0.1:0", []testfeed.ReleaseSpec{{Version: "6.4.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer feed.Close()

	ch := certstest.NewChain(t, "Acceptance")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "tls ok\n") }),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{ch.ServerCertificate()}},
		// Refused handshakes are the point of half this test: keep them
		// out of the log.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go srv.ServeTLS(ln, "", "")
	defer srv.Close()
	addr := ln.Addr().String()
	tlsURL := "https://" + addr + "/"

	c := testbed.StartContainer(t)
	c.CopyIn(t, bin, "/usr/local/bin/adldapctl", 0o755)
	const port = 38421
	inst := "/opt/auth0-adldap"
	c.ExecOK(t, "mkdir", "-p", inst)
	c.WriteFile(t, inst+"/config.json", []byte(fmt.Sprintf("{\n  \"PORT\": %d,\n  \"TEST_TLS_PROBE_URL\": %q\n}\n", port, tlsURL)), 0o600)
	adl := func(args ...string) (string, string, int) {
		return c.Exec(t, append([]string{"adldapctl", "--feed", feed.URL}, args...)...)
	}
	if out, errOut, code := adl("install", "--ticket", ticket); code != 0 {
		t.Fatalf("install exit %d\n%s\n%s", code, out, errOut)
	}
	waitVersion(t, port, "6.4.1")

	trusted := func(want bool) {
		t.Helper()
		_, errOut, code := c.Exec(t, "curl", "-sS", "-o", "/dev/null", tlsURL)
		if (code == 0) != want {
			t.Errorf("curl %s: exit %d (%s), want trusted=%v", tlsURL, code, strings.TrimSpace(errOut), want)
		}
		out, errOut, code := c.ExecInput(t, strings.NewReader(""), "openssl", "s_client", "-connect", addr, "-verify_return_error", "-brief")
		if (code == 0) != want {
			t.Errorf("openssl s_client -verify_return_error: exit %d, want trusted=%v\n%s%s", code, want, out, errOut)
		}
		code2 := waitProbe(t, port, want)
		if !want && code2 == "" {
			t.Errorf("probe failed without an error code")
		}
		t.Logf("trusted=%v: curl, openssl s_client and the sample connector agree (probe code %q)", want, code2)
	}
	trusted(false)

	rootFP := certs.Fingerprint(ch.Root)
	c.WriteFile(t, "/root/chain.pem", certstest.PEM(ch.Leaf, ch.Inter, ch.Root), 0o644)
	// Without --fingerprint or --yes: shown, nothing imported.
	if out, errOut, code := adl("certs", "import", "/root/chain.pem"); code != 1 || !strings.Contains(errOut, "--fingerprint "+rootFP) {
		t.Fatalf("unconfirmed import: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code := adl("certs", "import", "/root/chain.pem", "--fingerprint", rootFP)
	t.Logf("certs import:\n%s\n%s", out, errOut)
	if code != 0 || !strings.Contains(out, "ran: update-ca-certificates") || !strings.Contains(out, "restarted auth0-adldap") {
		t.Fatalf("certs import exit %d", code)
	}
	trusted(true)

	// Twice: each certificate stored once, nothing rerun.
	if out, errOut, code = adl("certs", "import", "/root/chain.pem", "--fingerprint", rootFP); code != 0 || !strings.Contains(out, "nothing changed") {
		t.Fatalf("second import exit %d\n%s\n%s", code, out, errOut)
	}
	ls, _, _ := c.Exec(t, "sh", "-c", "ls /usr/local/share/ca-certificates/ | grep -c '^adldapctl-'")
	if strings.TrimSpace(ls) != "2" {
		t.Fatalf("anchor files: %q, want 2 (root and intermediate)", ls)
	}
	out, _, code = adl("--json", "certs", "list")
	if code != 0 || !strings.Contains(out, rootFP) {
		t.Fatalf("certs list exit %d\n%s", code, out)
	}

	out, errOut, code = adl("certs", "remove", rootFP[:16])
	t.Logf("certs remove:\n%s\n%s", out, errOut)
	if code != 0 {
		t.Fatalf("certs remove exit %d", code)
	}
	// The intermediate imported with the root went with it (curl would
	// trust a chain ending at it).
	if !strings.Contains(out, "removed CN=Acceptance Intermediate CA") {
		t.Fatalf("certs remove of the root left the intermediate:\n%s", out)
	}
	if ls, _, _ := c.Exec(t, "sh", "-c", "ls /usr/local/share/ca-certificates/ | grep -c '^adldapctl-'"); strings.TrimSpace(ls) != "0" {
		t.Fatalf("anchor files left: %q", ls)
	}
	trusted(false)

	// SSL_CA_PATH: the connector reads that folder instead of the OS store,
	// and certs import puts the chain there too.
	cfg := c.ReadFile(t, inst+"/config.json")
	cfg = []byte(strings.Replace(string(cfg), "{", "{\n  \"SSL_CA_PATH\": \"./ca\",", 1))
	c.WriteFile(t, inst+"/config.json", cfg, 0o600)
	c.ExecOK(t, "systemctl", "restart", "auth0-adldap.service")
	waitProbe(t, port, false)
	out, errOut, code = adl("--yes", "certs", "import", "/root/chain.pem")
	if code != 0 || !strings.Contains(out, inst+"/ca/adldapctl-acceptance-root-ca-"+rootFP[:12]+".pem") {
		t.Fatalf("import with SSL_CA_PATH: exit %d\n%s\n%s", code, out, errOut)
	}
	waitProbe(t, port, true)
	// Only the SSL_CA_PATH copy trusts the chain for the connector now.
	// (Both OS anchors go: curl accepts a partial chain ending at a
	// trusted intermediate.)
	c.ExecOK(t, "sh", "-c", "rm /usr/local/share/ca-certificates/adldapctl-acceptance-*.crt")
	c.ExecOK(t, "update-ca-certificates")
	c.ExecOK(t, "systemctl", "restart", "auth0-adldap.service")
	waitProbe(t, port, true)
	if _, _, code := c.Exec(t, "curl", "-sS", "-o", "/dev/null", tlsURL); code == 0 {
		t.Error("curl trusts the chain without the OS anchor")
	}
	if out, errOut, code = adl("certs", "remove", rootFP); code != 0 {
		t.Fatalf("remove: exit %d\n%s\n%s", code, out, errOut)
	}
	waitProbe(t, port, false)
	if ls, _, _ := c.Exec(t, "ls", "-A", inst+"/ca"); strings.TrimSpace(ls) != "" {
		t.Errorf("SSL_CA_PATH still holds %q", ls)
	}
}
