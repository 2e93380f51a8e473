package postinstall

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/connector"
)

// plantedSecrets are values that must never appear in a bundle: one per
// secret key of SPEC, plus secrets under keys nobody knows.
var plantedSecrets = map[string]string{
	"PROVISIONING_TICKET":   "https://tenant.example.com/p/ad/PlantedTicket9f3a",
	"LDAP_BIND_PASSWORD":    "PlantedBindPw-7731",
	"LDAP_BIND_CREDENTIALS": "PlantedCredsBlob-5541aa",
	"AUTH_CERT_KEY":         "PlantedAuthCertKey-0042",
	"SSL_PFX":               "PlantedPfxBase64-MIIKAgEDMIIJ",
	"SSL_KEY_PASSWORD":      "PlantedSslKeyPw-1199",
	"SESSION_SECRET":        "PlantedSessionSecret-8823",
	"TENANT_SIGNING_KEY":    "PlantedTenantSigning-6610",
}

const (
	plantedProxyPw = "PlantedProxyPw-3317"
	jwtToken       = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJQbGFudGVkSldUIn0.PlantedJwtSignature_0xA9f"
)

func TestExportLeaksNoSecret(t *testing.T) {
	env := fixture(t, goodConfig)
	p := env.Platform
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	must(t, err)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	keyBody := strings.Split(pemKey, "\n")[1] // a line of the key's base64

	cfg := map[string]any{}
	for k, v := range plantedSecrets {
		cfg[k] = v
	}
	cfg["HTTP_PROXY"] = "http://proxyuser:" + plantedProxyPw + "@proxy.corp.example:3128"
	cfg["SOME_UNKNOWN_KEY"] = pemKey
	cfg["ANOTHER_UNKNOWN"] = jwtToken
	cfg["NESTED"] = map[string]any{"db": "postgres://app:NestedUrlPw-4471@db.corp:5432/x", "list": []any{"plain-nested-value"}}
	cfg["LDAP_URL"] = "ldap://dc1.corp.example:389"
	cfg["LDAP_BASE"] = "dc=corp,dc=example"
	cfg["LDAP_BIND_USER"] = "svc-auth0@corp.example"
	cfg["PORT"] = 4000
	b, err := json.MarshalIndent(cfg, "", "  ")
	must(t, err)
	must(t, os.WriteFile(p.Paths.ConfigFile, b, 0o600))
	env.LoadConfig()

	// A certificate and its key in certs/, a mapper and a log quoting
	// secrets.
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "connector.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	cder, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	certs := filepath.Join(p.Paths.InstallDir, "certs")
	must(t, os.WriteFile(filepath.Join(certs, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cder}), 0o600))
	must(t, os.WriteFile(filepath.Join(certs, "cert.key"), []byte(pemKey), 0o600))
	// A .pem holding the key too: only its certificate may be described.
	must(t, os.WriteFile(filepath.Join(certs, "both.pem"), append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cder}), pemKey...), 0o600))
	must(t, os.MkdirAll(filepath.Join(p.Paths.InstallDir, "lib"), 0o755))
	must(t, os.WriteFile(filepath.Join(p.Paths.InstallDir, "lib", "profileMapper.js"), []byte("module.exports = function (u) { return u; }; // mapper-marker\n"), 0o644))
	must(t, os.MkdirAll(filepath.Dir(p.Paths.LogFile), 0o755))
	var log strings.Builder
	for i := 0; i < 1500; i++ {
		log.WriteString("line filler\n")
	}
	log.WriteString("bind with " + plantedSecrets["LDAP_BIND_PASSWORD"] + " via http://proxyuser:" + plantedProxyPw + "@proxy.corp.example:3128 ticket " + plantedSecrets["PROVISIONING_TICKET"] + " token " + jwtToken + "\n")
	log.WriteString("last-log-line\n")
	must(t, os.WriteFile(p.Paths.LogFile, []byte(log.String()), 0o644))

	out := filepath.Join(t.TempDir(), "bundle.zip")
	n, err := WriteBundleFile(context.Background(), out, BundleOptions{Env: env, Timeout: 2 * time.Second, ToolVersion: "1.2.3"})
	must(t, err)
	fi, err := os.Stat(out)
	must(t, err)
	if fi.Size() != n || fi.Mode().Perm() != 0o600 {
		t.Errorf("size %d (said %d), mode %v", fi.Size(), n, fi.Mode().Perm())
	}

	// Everything: raw bytes of the file, and every entry's name, comment
	// and content uncompressed.
	raw, err := os.ReadFile(out)
	must(t, err)
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	must(t, err)
	all := string(raw) + zr.Comment
	entries := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		must(t, err)
		data, err := io.ReadAll(rc)
		must(t, err)
		rc.Close()
		entries[f.Name] = string(data)
		all += f.Name + f.Comment + string(f.Extra) + string(data)
	}
	secrets := []string{plantedProxyPw, jwtToken, "PlantedJwtSignature", keyBody, "NestedUrlPw-4471", "BEGIN PRIVATE KEY", "PlantedTicket9f3a"}
	for _, v := range plantedSecrets {
		secrets = append(secrets, v)
	}
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("the bundle holds the secret %q", s)
		}
	}

	for _, name := range []string{"config.json", "profileMapper.js", "certs.json", "verify.txt", "verify.json", "connector.log", "versions.json", "system.json", "README.txt"} {
		if _, ok := entries[name]; !ok {
			t.Errorf("no %s in the bundle (have %v)", name, keysOf(entries))
		}
	}
	conf := entries["config.json"]
	var back map[string]any
	if err := json.Unmarshal([]byte(conf), &back); err != nil {
		t.Fatalf("redacted config.json does not parse: %v\n%s", err, conf)
	}
	for k := range cfg {
		if _, ok := back[k]; !ok {
			t.Errorf("key %s lost", k)
		}
	}
	for k := range plantedSecrets {
		if back[k] != connector.Redacted {
			t.Errorf("%s = %v", k, back[k])
		}
	}
	for _, keep := range []string{"proxy.corp.example:3128", "proxyuser", "ldap://dc1.corp.example:389", "dc=corp,dc=example", "svc-auth0@corp.example", "4000", "plain-nested-value", "db.corp:5432"} {
		if !strings.Contains(conf, keep) {
			t.Errorf("config.json lost the non-secret %q:\n%s", keep, conf)
		}
	}
	if !strings.Contains(conf, `"PROVISIONING_TICKET": "<redacted>"`) {
		t.Errorf("marker not readable:\n%s", conf)
	}
	if !strings.Contains(entries["profileMapper.js"], "mapper-marker") {
		t.Errorf("mapper: %q", entries["profileMapper.js"])
	}
	if !strings.Contains(entries["certs.json"], "CN=connector.test") || !strings.Contains(entries["certs.json"], `"sha256"`) {
		t.Errorf("certs.json: %s", entries["certs.json"])
	}
	logTail := entries["connector.log"]
	if lines := strings.Count(logTail, "\n"); lines != 1000 || !strings.Contains(logTail, "last-log-line") {
		t.Errorf("log tail has %d lines", lines)
	}
	if !strings.Contains(entries["versions.json"], "6.4.1") || !strings.Contains(entries["versions.json"], "1.2.3") {
		t.Errorf("versions: %s", entries["versions.json"])
	}
	if !strings.Contains(entries["verify.txt"], "install.files") {
		t.Errorf("verify.txt: %s", entries["verify.txt"])
	}
}

func keysOf(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestExportRefusesLink(t *testing.T) {
	env := fixture(t, goodConfig)
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	must(t, os.WriteFile(target, []byte("keep"), 0o644))
	link := filepath.Join(dir, "out.zip")
	must(t, os.Symlink(target, link))
	if _, err := WriteBundleFile(context.Background(), link, BundleOptions{Env: env, Report: &Report{}}); err == nil {
		t.Fatal("wrote through a link")
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("target changed: %q", b)
	}
}

func TestRedactConfigUnparsable(t *testing.T) {
	s := redactConfigLines("{\n  \"LDAP_BIND_PASSWORD\": \"hunter2-planted\",\n  \"PORT\": 4000,,\n}")
	if strings.Contains(s, "hunter2-planted") || !strings.Contains(s, "PORT") {
		t.Errorf("%s", s)
	}
}
