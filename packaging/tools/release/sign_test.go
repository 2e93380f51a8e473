package release

import (
	"archive/zip"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"aead.dev/minisign"

	"github.com/adldapctl/adldapctl/internal/testbed"
	"github.com/adldapctl/adldapctl/updater"
)

// testCert is a throwaway code-signing CA and a signer it issued, as PEM
// files in a temp folder.
type testCert struct {
	CA, Cert, Key string
}

func newTestCert(dir string) (testCert, error) {
	c := testCert{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "signer.pem"), Key: filepath.Join(dir, "signer.key")}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return c, err
	}
	now := time.Now()
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return c, err
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "adldapctl test code-signing CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return c, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return c, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return c, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "adldapctl test signer"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return c, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return c, err
	}
	for path, block := range map[string]*pem.Block{c.CA: {Type: "CERTIFICATE", Bytes: caDER},
		c.Cert: {Type: "CERTIFICATE", Bytes: der}, c.Key: {Type: "PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			return c, err
		}
	}
	return c, nil
}

// verify runs osslsigncode verify of file against the CA and returns its
// output and whether it accepted the signature.
func verify(t *testing.T, ca, file string) (string, bool) {
	t.Helper()
	out, err := exec.Command("osslsigncode", "verify", "-CAfile", ca, "-in", file).CombinedOutput()
	return string(out), err == nil && strings.Contains(string(out), "Signature verification: ok")
}

// Acceptance 3 of issue 11 (signatures): adldapctl.exe (as released, in
// the zip, in the mirror and inside the .msi) and the .msi carry
// Authenticode signatures osslsigncode accepts against the test CA; a
// byte changed in either, or another CA, is refused.
func TestReleaseAuthenticode(t *testing.T) {
	r := buildTestRelease(t)
	if !r.res.Signed {
		t.Fatal("Result.Signed is false for a release built with a certificate")
	}
	work := t.TempDir()
	exe := filepath.Join(r.dir, "adldapctl-windows-amd64.exe")
	msi := filepath.Join(r.dir, MSIName(testVersion, "amd64"))

	// The exe inside the zip and the one inside the .msi are the signed one.
	zr, err := zip.OpenReader(filepath.Join(r.dir, "adldapctl-"+testVersion+"-windows-amd64.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	inZip := filepath.Join(work, "zip.exe")
	for _, f := range zr.File {
		if f.Name == "adldapctl-"+testVersion+"-windows-amd64/adldapctl.exe" {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(inZip, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	extract := filepath.Join(work, "msi")
	if out, err := exec.Command("msiextract", "-C", extract, msi).CombinedOutput(); err != nil {
		t.Fatalf("msiextract: %v\n%s", err, out)
	}
	var inMSI []string
	_ = filepath.WalkDir(extract, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "adldapctl.exe" {
			inMSI = append(inMSI, path)
		}
		return err
	})
	if len(inMSI) != 1 {
		t.Fatalf("adldapctl.exe in the .msi: %v", inMSI)
	}

	for _, f := range []string{exe, filepath.Join(r.res.Mirror, "adldapctl-windows-amd64.exe"), inZip, inMSI[0], msi} {
		out, ok := verify(t, r.cert.CA, f)
		if !ok {
			t.Errorf("osslsigncode verify %s against the test CA:\n%s", f, out)
			continue
		}
		if !strings.Contains(out, "Subject: /CN=adldapctl test signer") || !strings.Contains(out, "Text description: adldapctl") {
			t.Errorf("%s: unexpected signer or description:\n%s", f, out)
		}
	}

	// Tampered copies: one byte in the middle of the signed content.
	for _, f := range []string{exe, msi} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/3] ^= 0x01
		bad := filepath.Join(work, "tampered-"+filepath.Base(f))
		if err := os.WriteFile(bad, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, ok := verify(t, r.cert.CA, bad); ok {
			t.Errorf("a tampered %s verified:\n%s", filepath.Base(f), out)
		}
	}
	// Another CA does not vouch for our signer.
	other, err := newTestCert(filepath.Join(work, "other"))
	if err != nil {
		t.Fatal(err)
	}
	if out, ok := verify(t, other.CA, exe); ok {
		t.Errorf("the exe verified against an unrelated CA:\n%s", out)
	}
}

// The PKCS#12 route with a password (read by osslsigncode from a file,
// never from its command line); a wrong password fails and leaves the
// file as it was.
func TestAuthenticodePKCS12Password(t *testing.T) {
	for _, tool := range []string{"osslsigncode", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			testbed.Missing(t, tool)
		}
	}
	dir := t.TempDir()
	c, err := newTestCert(dir)
	if err != nil {
		t.Fatal(err)
	}
	p12 := filepath.Join(dir, "signer.p12")
	cmd := exec.Command("openssl", "pkcs12", "-export", "-in", c.Cert, "-inkey", c.Key, "-out", p12, "-passout", "env:P12PASS")
	cmd.Env = append(os.Environ(), "P12PASS=s3cret pass")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl pkcs12: %v\n%s", err, out)
	}
	exe := tinyWindowsExe(t, dir)
	orig, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}

	bad := &Authenticode{PKCS12: p12, Password: "wrong"}
	if err := bad.Check(); err != nil {
		t.Fatal(err)
	}
	if err := bad.Sign(context.Background(), exe); err == nil {
		t.Fatal("signed with a wrong PKCS#12 password")
	} else if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the password reached the error: %v", err)
	}
	if got, _ := os.ReadFile(exe); string(got) != string(orig) {
		t.Fatal("a failed signing changed the file")
	}
	if _, err := os.Stat(exe + ".signing"); !os.IsNotExist(err) {
		t.Errorf("a failed signing left %s.signing: %v", exe, err)
	}

	good := &Authenticode{PKCS12: p12, Password: "s3cret pass", Description: "adldapctl"}
	if err := good.Sign(context.Background(), exe); err != nil {
		t.Fatal(err)
	}
	if out, ok := verify(t, c.CA, exe); !ok {
		t.Fatalf("PKCS#12-signed exe does not verify:\n%s", out)
	}
}

// tinyWindowsExe builds an empty Go program for windows/amd64: an
// unsigned PE to sign.
func tinyWindowsExe(t *testing.T, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "tiny")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module tiny\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "tiny.exe")
	cmd := exec.Command("go", "build", "-trimpath", "-o", exe, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build a tiny windows program: %v\n%s", err, out)
	}
	return exe
}

func testKey(t *testing.T) minisign.PrivateKey {
	t.Helper()
	dir := t.TempDir()
	if _, err := updater.GenerateKeyPair(filepath.Join(dir, "k.pub"), filepath.Join(dir, "k.key"), ""); err != nil {
		t.Fatal(err)
	}
	k, err := updater.LoadPrivateKey(filepath.Join(dir, "k.key"), "")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestAuthenticodeCheckRefuses(t *testing.T) {
	f := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, a := range map[string]Authenticode{
		"nothing":        {},
		"cert, no key":   {CertFile: f},
		"key, no cert":   {KeyFile: f},
		"pkcs12 and pem": {PKCS12: f, CertFile: f, KeyFile: f},
		"missing file":   {PKCS12: f + ".missing"},
		"a folder":       {PKCS12: filepath.Dir(f)},
	} {
		if err := a.Check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := (&Authenticode{CertFile: f, KeyFile: f}).Check(); err != nil {
		t.Errorf("cert and key: %v", err)
	}
}

// REQUIRE_SIGNING without a certificate fails before anything is built;
// a version the MSI cannot carry too.
func TestBuildRefusesEarly(t *testing.T) {
	if _, err := exec.LookPath("wixl"); err != nil {
		testbed.Missing(t, "wixl")
	}
	if _, err := exec.LookPath("msibuild"); err != nil {
		testbed.Missing(t, "msibuild (msitools)")
	}
	repo, _ := filepath.Abs(filepath.Join("..", "..", ".."))
	key := testKey(t)
	out := filepath.Join(t.TempDir(), "release")
	_, err := Build(context.Background(), Options{Version: "1.2.3", Repo: repo, Out: out, Key: key,
		Targets: []string{"windows/amd64"}, RequireSigning: true})
	if err == nil || !strings.Contains(err.Error(), "REQUIRE_SIGNING") {
		t.Errorf("REQUIRE_SIGNING without a certificate: %v", err)
	}
	_, err = Build(context.Background(), Options{Version: "1.2.3-rc.1", Repo: repo, Out: out, Key: key,
		Targets: []string{"windows/amd64"}})
	if err == nil || !strings.Contains(err.Error(), "numeric x.y.z") {
		t.Errorf("pre-release version for the MSI: %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused build wrote %s: %v", out, err)
	}
}
