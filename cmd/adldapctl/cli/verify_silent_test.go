package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/internal/testbed"
	"github.com/adldapctl/adldapctl/postinstall"
)

// TestVerifySilentPeersBounded: with the tenant, the hub and the LDAP
// server all accepting connections and never answering, `verify --timeout
// 3s` returns within 5 s, with those checks failed (not skipped).
func TestVerifySilentPeersBounded(t *testing.T) {
	tenant, hub, ldap := testbed.StartSilent(t), testbed.StartSilent(t), testbed.StartSilent(t)
	root := t.TempDir()
	dir := filepath.Join(root, "opt/auth0-adldap")
	os.MkdirAll(dir, 0o700)
	cfg := map[string]string{
		"PROVISIONING_TICKET": "https://" + tenant + "/p/ad/silentticket",
		"AD_HUB":              "https://" + hub + "/lo/hub",
		"LDAP_URL":            "ldap://" + ldap,
		"LDAP_BASE":           "dc=example,dc=test",
		"LDAP_BIND_USER":      "cn=svc,dc=example,dc=test",
		"LDAP_BIND_PASSWORD":  "not-a-real-password",
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600)
	start := time.Now()
	r := run(t, "--root", root, "--json", "verify", "--timeout", "3s")
	took := time.Since(start)
	if took > 5*time.Second {
		t.Errorf("verify took %v with silent peers and --timeout 3s, want under 5s", took)
	}
	if r.code != ExitFailed {
		t.Errorf("exit %d, want 1", r.code)
	}
	var rep postinstall.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	got := map[string]postinstall.Status{}
	for _, c := range rep.Checks {
		got[c.ID] = c.Status
	}
	for _, id := range []string{"tenant.reach", "tenant.hub", "ldap.reach"} {
		if got[id] != postinstall.Fail {
			t.Errorf("%s: %q, want fail", id, got[id])
		}
	}
	t.Logf("verify with silent peers: %v", took)
}
