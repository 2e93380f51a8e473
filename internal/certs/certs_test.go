package certs_test

import (
	"crypto/x509"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/internal/certs"
	"github.com/adldapctl/adldapctl/internal/certs/certstest"
)

func fps(cs []*x509.Certificate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, certs.Fingerprint(c))
	}
	return out
}

func TestParseFormats(t *testing.T) {
	ch := certstest.NewChain(t, "Parse")
	want := fps([]*x509.Certificate{ch.Leaf, ch.Inter, ch.Root})
	keyPEM := []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
	cases := map[string][]byte{
		"pem bundle":          certstest.PEM(ch.Leaf, ch.Inter, ch.Root),
		"pem with key + dups": append(append(append([]byte("junk before\n"), keyPEM...), certstest.PEM(ch.Leaf, ch.Inter, ch.Leaf)...), certstest.PEM(ch.Root)...),
		"p7b der":             certstest.P7B(ch.Leaf, ch.Inter, ch.Root),
		"p7b pem":             certstest.P7BPEM(ch.Leaf, ch.Inter, ch.Root),
		"crlf pem":            []byte(strings.ReplaceAll(string(certstest.PEM(ch.Leaf, ch.Inter, ch.Root)), "\n", "\r\n")),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := certs.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(fps(got), ",") != strings.Join(want, ",") {
				t.Fatalf("got %d certs %v, want %v", len(got), fps(got), want)
			}
		})
	}
	got, err := certs.Parse(ch.Root.Raw)
	if err != nil || len(got) != 1 || certs.Fingerprint(got[0]) != certs.Fingerprint(ch.Root) {
		t.Fatalf("single DER: %v %v", got, err)
	}
}

// TestParseOpenSSLP7B reads a .p7b made by openssl (crl2pkcs7), a second
// encoder independent of certstest.P7B.
func TestParseOpenSSLP7B(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not on PATH")
	}
	ch := certstest.NewChain(t, "OpenSSL")
	dir := t.TempDir()
	in := filepath.Join(dir, "chain.pem")
	if err := os.WriteFile(in, certstest.PEM(ch.Root, ch.Inter), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, form := range []string{"DER", "PEM"} {
		out := filepath.Join(dir, "chain-"+form+".p7b")
		if b, err := exec.Command(openssl, "crl2pkcs7", "-nocrl", "-certfile", in, "-outform", form, "-out", out).CombinedOutput(); err != nil {
			t.Fatalf("openssl: %v %s", err, b)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		got, err := certs.Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", form, err)
		}
		if len(got) != 2 {
			t.Fatalf("%s: %d certs", form, len(got))
		}
	}
}

func TestParseGarbage(t *testing.T) {
	ch := certstest.NewChain(t, "Garbage")
	p7 := certstest.P7B(ch.Root)
	for name, data := range map[string][]byte{
		"empty":         nil,
		"text":          []byte("hello, not a certificate\n"),
		"key only":      []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
		"truncated der": ch.Root.Raw[:len(ch.Root.Raw)/2],
		"truncated p7b": p7[:len(p7)-20],
		"bad pem body":  []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
	} {
		if got, err := certs.Parse(data); !errors.Is(err, certs.ErrNoCertificates) {
			t.Errorf("%s: got %d certs, err %v; want ErrNoCertificates", name, len(got), err)
		}
	}
}

func TestClassifySortsAndPins(t *testing.T) {
	ch := certstest.NewChain(t, "Sort")
	cs := certs.Classify([]*x509.Certificate{ch.Leaf, ch.Inter, ch.Root})
	roles := []certs.Role{cs[0].Role, cs[1].Role, cs[2].Role}
	if roles[0] != certs.Root || roles[1] != certs.Intermediate || roles[2] != certs.Leaf {
		t.Fatalf("roles %v", roles)
	}
	if cs[0].SHA256 != certs.Fingerprint(ch.Root) {
		t.Fatal("root not first")
	}
	if len(certs.Anchors(cs)) != 2 {
		t.Fatal("anchors")
	}
	if pin, ok := certs.Pin(cs); !ok || pin.SHA256 != certs.Fingerprint(ch.Root) {
		t.Fatal("pin is not the root")
	}
	// A server that sends leaf + intermediate only: the intermediate is the pin.
	noRoot := certs.Classify([]*x509.Certificate{ch.Leaf, ch.Inter})
	if pin, ok := certs.Pin(noRoot); !ok || pin.SHA256 != certs.Fingerprint(ch.Inter) {
		t.Fatal("pin without root is not the intermediate")
	}
	if _, ok := certs.Pin(certs.Classify([]*x509.Certificate{ch.Leaf})); ok {
		t.Fatal("a leaf alone has a pin")
	}
}

func TestSelect(t *testing.T) {
	ch := certstest.NewChain(t, "Pinned")
	other := certstest.NewChain(t, "Intruder")
	cs := certs.Classify([]*x509.Certificate{ch.Leaf, ch.Inter, other.Inter, ch.Root})
	sel, err := certs.Select(cs, certs.Fingerprint(ch.Root))
	if err != nil {
		t.Fatal(err)
	}
	if len(sel) != 2 || sel[0].SHA256 != certs.Fingerprint(ch.Root) || sel[1].SHA256 != certs.Fingerprint(ch.Inter) {
		t.Fatalf("selected %v", sel)
	}
	if _, err := certs.Select(cs, certs.Fingerprint(ch.Leaf)); !errors.Is(err, certs.ErrFingerprintMismatch) || !strings.Contains(err.Error(), "leaf") {
		t.Fatalf("leaf pin: %v", err)
	}
	if _, err := certs.Select(cs, strings.Repeat("ab", 32)); !errors.Is(err, certs.ErrFingerprintMismatch) {
		t.Fatalf("wrong pin: %v", err)
	}
}

func TestWarningAndFileStem(t *testing.T) {
	old := certstest.NewChainWith(t, certstest.Options{Name: "Old", NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	future := certstest.NewChainWith(t, certstest.Options{Name: "Future", NotBefore: time.Now().Add(24 * time.Hour), NotAfter: time.Now().Add(48 * time.Hour)})
	now := time.Now()
	if w := certs.Classify([]*x509.Certificate{old.Root})[0].Warning(now); !strings.Contains(w, "expired") {
		t.Errorf("expired: %q", w)
	}
	if w := certs.Classify([]*x509.Certificate{future.Root})[0].Warning(now); !strings.Contains(w, "not valid before") {
		t.Errorf("not yet valid: %q", w)
	}
	c := certs.Classify([]*x509.Certificate{old.Root})[0]
	if got, want := certs.FileStem(c), "adldapctl-old-root-ca-"+c.SHA256[:12]; got != want {
		t.Errorf("stem %q, want %q", got, want)
	}
}

func TestNormalizeFingerprint(t *testing.T) {
	full := strings.Repeat("Ab", 32)
	colons := strings.TrimSuffix(strings.Repeat("AB:", 32), ":")
	for in, want := range map[string]string{full: strings.ToLower(full), colons: strings.Repeat("ab", 32), " sha256=" + full: strings.ToLower(full)} {
		if got, err := certs.NormalizeFingerprint(in, true); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	if _, err := certs.NormalizeFingerprint("abcdef123456", true); err == nil {
		t.Error("short accepted as full")
	}
	if got, err := certs.NormalizeFingerprint("abcdef123456", false); err != nil || got != "abcdef123456" {
		t.Errorf("prefix: %q %v", got, err)
	}
	for _, bad := range []string{"abc", "xyz123456789012", strings.Repeat("a", 65), ""} {
		if _, err := certs.NormalizeFingerprint(bad, false); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
