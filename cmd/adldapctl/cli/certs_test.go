package cli

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/internal/certs"
	"github.com/adldapctl/adldapctl/internal/certs/certstest"
	"github.com/adldapctl/adldapctl/internal/testfeed"
)

// certsRoot is a --root with the os-release of a distro.
func certsRoot(t *testing.T, osRelease string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/os-release"), []byte(osRelease), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// treeFiles lists every file under root (relative), except adldapctl's
// own state folder and os-release.
func treeFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if fi.IsDir() || rel == "etc/os-release" || strings.HasPrefix(rel, "var/lib/adldapctl") {
			return nil
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func decodeImport(t *testing.T, r runResult) importResult {
	t.Helper()
	var res importResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("json: %v\n%s\n%s", err, r.stdout, r.stderr)
	}
	return res
}

// Acceptance 2: Debian, RHEL and SUSE layouts under --root get the chain
// in the right folder, once after two imports, and the right update
// command reported.
func TestCertsImportDistroLayouts(t *testing.T) {
	ch := certstest.NewChain(t, "Layout")
	chain := writeTemp(t, "chain.pem", certstest.PEM(ch.Leaf, ch.Inter, ch.Root))
	for _, tc := range []struct {
		name, osRelease, dir, update string
	}{
		{"debian", "ID=debian\nVERSION_ID=\"12\"\n", "usr/local/share/ca-certificates", "update-ca-certificates"},
		{"ubuntu", "ID=ubuntu\nID_LIKE=debian\n", "usr/local/share/ca-certificates", "update-ca-certificates"},
		{"rhel", "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n", "etc/pki/ca-trust/source/anchors", "update-ca-trust extract"},
		{"fedora", "ID=fedora\n", "etc/pki/ca-trust/source/anchors", "update-ca-trust extract"},
		{"suse", "ID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\n", "etc/pki/trust/anchors", "update-ca-certificates"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := certsRoot(t, tc.osRelease)
			for i := range 2 {
				r := run(t, "--root", root, "--json", "certs", "import", chain, "--fingerprint", certs.Fingerprint(ch.Root))
				if r.code != 0 {
					t.Fatalf("import %d: exit %d\n%s\n%s", i+1, r.code, r.stdout, r.stderr)
				}
				res := decodeImport(t, r)
				if res.UpdateCommand != tc.update || res.UpdateRan {
					t.Errorf("import %d: update %q ran %v, want %q reported", i+1, res.UpdateCommand, res.UpdateRan, tc.update)
				}
				if res.Changed != (i == 0) {
					t.Errorf("import %d: changed %v", i+1, res.Changed)
				}
				wantRestart := map[bool]string{true: "reported", false: "not-needed"}[i == 0]
				if res.Restart != wantRestart {
					t.Errorf("import %d: restart %q, want %q", i+1, res.Restart, wantRestart)
				}
				if len(res.Imported) != 2 || len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0].Reason, "leaf") {
					t.Errorf("import %d: imported %d skipped %+v", i+1, len(res.Imported), res.Skipped)
				}
			}
			want := []string{
				filepath.Join(tc.dir, "adldapctl-layout-intermediate-ca-"+certs.Fingerprint(ch.Inter)[:12]+".crt"),
				filepath.Join(tc.dir, "adldapctl-layout-root-ca-"+certs.Fingerprint(ch.Root)[:12]+".crt"),
			}
			sort.Strings(want)
			if got := treeFiles(t, root); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("files under root:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			fi, err := os.Stat(filepath.Join(root, want[0]))
			if err != nil || fi.Mode().Perm() != 0o644 {
				t.Fatalf("mode: %v %v", err, fi.Mode())
			}
			b, _ := os.ReadFile(filepath.Join(root, want[1]))
			if parsed, err := certs.Parse(b); err != nil || len(parsed) != 1 || certs.Fingerprint(parsed[0]) != certs.Fingerprint(ch.Root) {
				t.Fatalf("root file holds %v %v", parsed, err)
			}
		})
	}
}

func TestCertsImportFormatsAndConfirmation(t *testing.T) {
	ch := certstest.NewChain(t, "Format")
	rootFP := certs.Fingerprint(ch.Root)
	for name, data := range map[string][]byte{
		"chain.p7b":     certstest.P7B(ch.Root, ch.Inter),
		"chain-pem.p7b": certstest.P7BPEM(ch.Inter, ch.Root),
		"root.der":      ch.Root.Raw,
		"root.pem":      certstest.PEM(ch.Root),
	} {
		t.Run(name, func(t *testing.T) {
			root := certsRoot(t, "ID=debian\n")
			file := writeTemp(t, name, data)
			// Neither --fingerprint nor --yes: shown, exit 1, nothing written.
			r := run(t, "--root", root, "certs", "import", file)
			if r.code != 1 || !strings.Contains(r.stderr, "re-run with --fingerprint "+rootFP+" ") || !strings.Contains(r.stdout, rootFP) {
				t.Fatalf("unconfirmed: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			if files := treeFiles(t, root); len(files) != 0 {
				t.Fatalf("unconfirmed import wrote %v", files)
			}
			r = run(t, "--root", root, "--yes", "certs", "import", file)
			if r.code != 0 || !strings.Contains(r.stdout, "update command: update-ca-certificates (not run)") {
				t.Fatalf("--yes: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			if files := treeFiles(t, root); len(files) == 0 {
				t.Fatal("nothing written")
			}
		})
	}
}

func TestCertsImportRefusesGarbageAndLeaves(t *testing.T) {
	ch := certstest.NewChain(t, "Refuse")
	for name, data := range map[string][]byte{
		"garbage.pem": []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"),
		"text.crt":    []byte("this is not a certificate\n"),
		"empty.pem":   nil,
		"leaf.pem":    certstest.PEM(ch.Leaf),
	} {
		t.Run(name, func(t *testing.T) {
			root := certsRoot(t, "ID=debian\n")
			file := writeTemp(t, name, data)
			r := run(t, "--root", root, "--yes", "certs", "import", file)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			if name == "leaf.pem" && !strings.Contains(r.stderr, "leaf (server) certificate, not a CA") {
				t.Errorf("leaf message: %s", r.stderr)
			}
			if files := treeFiles(t, root); len(files) != 0 {
				t.Fatalf("wrote %v", files)
			}
		})
	}
	root := certsRoot(t, "ID=debian\n")
	if r := run(t, "--root", root, "--yes", "certs", "import", filepath.Join(root, "missing.pem")); r.code != 2 {
		t.Fatalf("missing file: exit %d", r.code)
	}
	if r := run(t, "--root", root, "certs", "import", writeTemp(t, "c.pem", certstest.PEM(ch.Root)), "--fingerprint", "zz"); r.code != 2 {
		t.Fatalf("bad fingerprint flag: exit %d", r.code)
	}
	// A wrong fingerprint imports nothing.
	r := run(t, "--root", root, "certs", "import", writeTemp(t, "c.pem", certstest.PEM(ch.Root)), "--fingerprint", strings.Repeat("0", 64))
	if r.code != ExitVerification || len(treeFiles(t, root)) != 0 {
		t.Fatalf("wrong fingerprint: exit %d files %v\n%s", r.code, treeFiles(t, root), r.stderr)
	}
}

func TestCertsImportWarnsOnValidity(t *testing.T) {
	old := certstest.NewChainWith(t, certstest.Options{Name: "Expired", NotBefore: time.Now().Add(-72 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	root := certsRoot(t, "ID=debian\n")
	r := run(t, "--root", root, "--yes", "certs", "import", writeTemp(t, "old.pem", certstest.PEM(old.Root)))
	if r.code != 0 || !strings.Contains(r.stderr, "warning: CN=Expired Root CA") || !strings.Contains(r.stderr, "expired on") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// SSL_CA_PATH: the certificates also go there (.pem), list shows both
// files, remove by a 12-digit prefix undoes both.
func TestCertsSSLCAPathListRemove(t *testing.T) {
	ch := certstest.NewChain(t, "CAPath")
	root := certsRoot(t, "ID=debian\n")
	inst := filepath.Join(root, "opt/auth0-adldap")
	if err := os.MkdirAll(inst, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(inst, "config.json"), []byte("{\n  \"SSL_CA_PATH\": \"./ca\"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, "--root", root, "--yes", "certs", "import", writeTemp(t, "c.pem", certstest.PEM(ch.Inter, ch.Root)))
	if r.code != 0 {
		t.Fatalf("import: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	rootStem := "adldapctl-capath-root-ca-" + certs.Fingerprint(ch.Root)[:12]
	for _, p := range []string{"opt/auth0-adldap/ca/" + rootStem + ".pem", "usr/local/share/ca-certificates/" + rootStem + ".crt"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	r = run(t, "--root", root, "--json", "certs", "list")
	var list struct {
		Certificates []certInfo `json:"certificates"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil || len(list.Certificates) != 2 {
		t.Fatalf("list: exit %d\n%s", r.code, r.stdout)
	}
	for _, c := range list.Certificates {
		if len(c.Files) != 2 {
			t.Errorf("%s: files %v", c.Subject, c.Files)
		}
	}
	// --all also reads files adldapctl did not write.
	other := certstest.NewChain(t, "Other")
	if err := os.WriteFile(filepath.Join(root, "usr/local/share/ca-certificates/corp.crt"), certstest.PEM(other.Root), 0o644); err != nil {
		t.Fatal(err)
	}
	r = run(t, "--root", root, "--json", "certs", "list", "--all")
	if r.code != 0 || !strings.Contains(r.stdout, certs.Fingerprint(other.Root)) {
		t.Fatalf("list --all: exit %d\n%s", r.code, r.stdout)
	}
	if r = run(t, "--root", root, "certs", "list"); strings.Contains(r.stdout, certs.Fingerprint(other.Root)) {
		t.Fatal("list shows a file adldapctl did not import")
	}

	if r = run(t, "--root", root, "certs", "remove", "abc"); r.code != 2 {
		t.Fatalf("short prefix: exit %d", r.code)
	}
	r = run(t, "--root", root, "certs", "remove", certs.Fingerprint(ch.Root)[:12])
	if r.code != 0 || !strings.Contains(r.stdout, "update command: update-ca-certificates (not run)") ||
		!strings.Contains(r.stdout, "removed CN=CAPath Intermediate CA") {
		t.Fatalf("remove: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, p := range []string{"opt/auth0-adldap/ca/" + rootStem + ".pem", "usr/local/share/ca-certificates/" + rootStem + ".crt"} {
		if _, err := os.Lstat(filepath.Join(root, p)); !os.IsNotExist(err) {
			t.Fatalf("%s still there: %v", p, err)
		}
	}
	if r = run(t, "--root", root, "certs", "remove", certs.Fingerprint(ch.Root)); r.code != 1 {
		t.Fatalf("second remove: exit %d", r.code)
	}
	// The intermediate imported with the root went with it.
	if got := treeFiles(t, root); len(got) != 2 || !strings.HasSuffix(got[1], "corp.crt") {
		t.Fatalf("left after remove: %v", got)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/local/share/ca-certificates/corp.crt")); err != nil {
		t.Fatal("remove touched a file adldapctl did not write")
	}
}

func TestCertsImportRefusesPlantedLink(t *testing.T) {
	ch := certstest.NewChain(t, "Link")
	root := certsRoot(t, "ID=debian\n")
	dir := filepath.Join(root, "usr/local/share/ca-certificates")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(root, "victim")
	if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	name := "adldapctl-link-root-ca-" + certs.Fingerprint(ch.Root)[:12] + ".crt"
	if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
	r := run(t, "--root", root, "--yes", "certs", "import", writeTemp(t, "c.pem", certstest.PEM(ch.Root)))
	if r.code == 0 || !strings.Contains(r.stderr, "symbolic link") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Fatal("wrote through the link")
	}
}

// Acceptance 5: --from-url against a loopback TLS server imports only with
// a matching --fingerprint; a wrong one imports nothing.
func TestCertsImportFromURL(t *testing.T) {
	ch := certstest.NewChain(t, "Remote")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	cert := ch.ServerCertificate()
	cert.Certificate = append(cert.Certificate, ch.Root.Raw)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()
	root := certsRoot(t, "ID=debian\n")

	r := run(t, "--root", root, "certs", "import", "--from-url", srv.URL, "--fingerprint", certs.Fingerprint(ch.Leaf))
	if r.code != ExitVerification || len(treeFiles(t, root)) != 0 {
		t.Fatalf("leaf fingerprint: exit %d files %v\n%s", r.code, treeFiles(t, root), r.stderr)
	}
	r = run(t, "--root", root, "certs", "import", "--from-url", srv.URL, "--fingerprint", strings.Repeat("ab", 32))
	if r.code != ExitVerification || len(treeFiles(t, root)) != 0 || !strings.Contains(r.stderr, "nothing imported") {
		t.Fatalf("wrong fingerprint: exit %d files %v\n%s", r.code, treeFiles(t, root), r.stderr)
	}
	r = run(t, "--root", root, "--json", "certs", "import", "--from-url", srv.URL, "--fingerprint", certs.Fingerprint(ch.Root))
	if r.code != 0 {
		t.Fatalf("matching fingerprint: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	res := decodeImport(t, r)
	if len(res.Certificates) != 3 || len(res.Imported) != 2 {
		t.Fatalf("read %d, imported %d", len(res.Certificates), len(res.Imported))
	}
	if files := treeFiles(t, root); len(files) != 2 {
		t.Fatalf("files %v", files)
	}
	// The imported root verifies the server.
	pool := x509.NewCertPool()
	pool.AddCert(ch.Root)
	if _, err := ch.Leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: func() *x509.CertPool {
		p := x509.NewCertPool()
		p.AddCert(ch.Inter)
		return p
	}()}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"http://" + strings.TrimPrefix(srv.URL, "https://"), "https://", "ftp://x"} {
		if r := run(t, "--root", root, "certs", "import", "--from-url", bad, "--yes"); r.code != 2 {
			t.Errorf("--from-url %q: exit %d", bad, r.code)
		}
	}
	if r := run(t, "--root", root, "certs", "import"); r.code != 2 {
		t.Errorf("no input: exit %d", r.code)
	}
}

func TestInstallCAFileImports(t *testing.T) {
	requireNode(t)
	ch := certstest.NewChain(t, "Install")
	feed := startFeed(t, testfeed.ReleaseSpec{Version: "6.4.1"})
	root := certsRoot(t, "ID=debian\n")
	leafOnly := writeTemp(t, "leaf.pem", certstest.PEM(ch.Leaf))
	if r := run(t, "--root", root, "--feed", feed.URL, "install", "--ca-file", leafOnly); r.code != 2 {
		t.Fatalf("leaf --ca-file: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(root, "opt/auth0-adldap/server.js")); !os.IsNotExist(err) {
		t.Fatal("installed despite a bad --ca-file")
	}
	r := run(t, "--root", root, "--feed", feed.URL, "install", "--ca-file", writeTemp(t, "ca.pem", certstest.PEM(ch.Root)))
	if r.code != 0 {
		t.Fatalf("install: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	name := "usr/local/share/ca-certificates/adldapctl-install-root-ca-" + certs.Fingerprint(ch.Root)[:12] + ".crt"
	if _, err := os.Stat(filepath.Join(root, name)); err != nil || !strings.Contains(r.stdout, "trusted CA CN=Install Root CA") {
		t.Fatalf("%s: %v\n%s", name, err, r.stdout)
	}
}

// --from-url goes through the effective proxy: --proxy, else HTTP_PROXY in
// config.json (the connector's own setting).
func TestCertsImportFromURLThroughProxy(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "")
	t.Setenv("https_proxy", "")
	ch := certstest.NewChain(t, "Proxied")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ch.ServerCertificate()}}
	srv.StartTLS()
	defer srv.Close()
	var tunnels atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		dst, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer dst.Close()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		tunnels.Add(1)
		if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
			return
		}
		go func() { _, _ = io.Copy(dst, conn) }()
		_, _ = io.Copy(conn, dst)
	}))
	defer proxy.Close()

	root := certsRoot(t, "ID=debian\n")
	interFP := certs.Fingerprint(ch.Inter) // the server sends no root: the intermediate is the anchor
	r := run(t, "--root", root, "certs", "import", "--from-url", srv.URL, "--proxy", proxy.URL, "--fingerprint", interFP)
	if r.code != 0 || tunnels.Load() != 1 {
		t.Fatalf("--proxy: exit %d tunnels %d\n%s\n%s", r.code, tunnels.Load(), r.stdout, r.stderr)
	}
	inst := filepath.Join(root, "opt/auth0-adldap")
	if err := os.MkdirAll(inst, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(inst, "config.json"), []byte(`{"HTTP_PROXY": "`+proxy.URL+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	r = run(t, "--root", root, "certs", "import", "--from-url", srv.URL, "--fingerprint", interFP)
	if r.code != 0 || tunnels.Load() != 2 || !strings.Contains(r.stdout, "nothing changed") {
		t.Fatalf("config.json HTTP_PROXY: exit %d tunnels %d\n%s\n%s", r.code, tunnels.Load(), r.stdout, r.stderr)
	}
}

// An SSL_CA_PATH outside the install folder is read by the connector where
// it is, so the certificates go there (under --root); one naming a program
// folder is refused before anything is written.
func TestCertsSSLCAPathOutsideAndRefused(t *testing.T) {
	ch := certstest.NewChain(t, "Outside")
	for _, tc := range []struct {
		value, want string
		code        int
	}{
		{"/etc/connector-ca", "etc/connector-ca", 0},
		{"../shared-ca", "opt/shared-ca", 0},
		{"./node_modules", "", 1},
	} {
		root := certsRoot(t, "ID=debian\n")
		inst := filepath.Join(root, "opt/auth0-adldap")
		if err := os.MkdirAll(inst, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(inst, "config.json"), []byte(`{"SSL_CA_PATH": "`+tc.value+`"}`), 0o600); err != nil {
			t.Fatal(err)
		}
		r := run(t, "--root", root, "--yes", "certs", "import", writeTemp(t, "c.pem", certstest.PEM(ch.Root)))
		if r.code != tc.code {
			t.Fatalf("%s: exit %d\n%s\n%s", tc.value, r.code, r.stdout, r.stderr)
		}
		files := treeFiles(t, root)
		if tc.code != 0 {
			if len(files) != 1 { // config.json only
				t.Fatalf("%s: wrote %v", tc.value, files)
			}
			continue
		}
		want := filepath.Join(tc.want, "adldapctl-outside-root-ca-"+certs.Fingerprint(ch.Root)[:12]+".pem")
		found := false
		for _, f := range files {
			found = found || f == want
		}
		if !found {
			t.Fatalf("%s: %s not in %v", tc.value, want, files)
		}
	}
}

// TestCertsJSONShapes pins the --json contract of import and remove (the
// fields they share come from one embedded struct): every key, in order.
func TestCertsJSONShapes(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{importResult{Skipped: []skipped{{}}, trustChange: trustChange{Notes: []string{"n"}}},
			`{"certificates":null,"imported":null,"skipped":[{"sha256":"","reason":""}],"changed":false,"update_command":"","update_ran":false,"restart":"","notes":["n"]}`},
		{removeResult{trustChange: trustChange{Notes: []string{"n"}}},
			`{"removed":null,"update_command":"","update_ran":false,"restart":"","notes":["n"]}`},
	} {
		b, err := json.Marshal(tc.v)
		if err != nil || string(b) != tc.want {
			t.Errorf("%T: %s (%v), want %s", tc.v, b, err, tc.want)
		}
	}
}
