package installer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNpmSummaryNamesTheDependency(t *testing.T) {
	cases := []struct{ out, culprit, reason string }{
		{`npm error code ECONNREFUSED
npm error syscall connect
npm error FetchError: request to http://127.0.0.1:1/wsfed/-/wsfed-1.0.0.tgz failed, reason: connect ECONNREFUSED 127.0.0.1:1
npm error     at ClientRequest.<anonymous> (/usr/lib/node_modules/npm/node_modules/minipass-fetch/lib/index.js:130:14)`,
			"http://127.0.0.1:1/wsfed/-/wsfed-1.0.0.tgz", "ECONNREFUSED"},
		{`npm error code E404
npm error 404 Not Found - GET https://npm.example.test/wsfed - Not found
npm error 404  'wsfed@^1.0.0' is not in this registry.`,
			"https://npm.example.test/wsfed", "E404"},
		{`npm error code 128
npm error An unknown git error occurred
npm error command git --no-replace-objects ls-remote ssh://git@git.example.test/auth0/passport-wsfed-saml2.git
npm error git@git.example.test: Permission denied (publickey).
npm error fatal: Could not read from remote repository.`,
			"ssh://git@git.example.test/auth0/passport-wsfed-saml2.git", "Permission denied (publickey)"},
		{`npm error code ETARGET
npm error notarget No matching version found for ldapjs@9.9.9.`,
			"ldapjs@9.9.9", "notarget"},
	}
	for _, c := range cases {
		culprit, lines := npmSummary(c.out)
		if culprit != c.culprit {
			t.Errorf("culprit %q, want %q", culprit, c.culprit)
		}
		joined := strings.Join(lines, "\n")
		if !strings.Contains(joined, c.reason) || strings.Contains(joined, "    at ") {
			t.Errorf("reason lines %q lack %q or keep the stack", joined, c.reason)
		}
	}
}

func TestCABundleJoinsEveryFile(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.pem"), filepath.Join(dir, "b.pem")
	os.WriteFile(a, []byte("-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n"), 0o644)
	os.WriteFile(b, []byte("-----BEGIN CERTIFICATE-----\nB\n-----END CERTIFICATE-----"), 0o644)
	if got, err := caBundle([]string{a}, filepath.Join(dir, "x.pem")); err != nil || got != a {
		t.Fatalf("one file: %s %v", got, err)
	}
	got, err := caBundle([]string{a, b}, filepath.Join(dir, "bundle.pem"))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(got)
	if !strings.Contains(string(data), "\nA\n") || !strings.Contains(string(data), "\nB\n") {
		t.Errorf("bundle lacks a certificate:\n%s", data)
	}
	if _, err := caBundle([]string{a, filepath.Join(dir, "missing.pem")}, filepath.Join(dir, "y.pem")); err == nil {
		t.Error("missing CA file accepted")
	}
}
