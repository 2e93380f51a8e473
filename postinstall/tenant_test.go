package postinstall

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/internal/testbed"
	"github.com/adldapctl/adldapctl/platform"
)

// tenantEnv is an install dir whose config.json points at ticketURL, with
// SSL_CA_PATH=cas (an empty folder: only what a test puts there is
// trusted, as the connector would see it), certs/cert.pem = certPEM.
type tenantEnvOpts struct {
	ticket, hub, proxy string
	certPEM            []byte
	extra              map[string]any
}

func tenantEnv(t *testing.T, o tenantEnvOpts) (*Env, string) {
	t.Helper()
	dir := t.TempDir()
	cas := filepath.Join(dir, "cas")
	for _, d := range []string{cas, filepath.Join(dir, "certs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if o.certPEM != nil {
		if err := os.WriteFile(filepath.Join(dir, "certs", "cert.pem"), o.certPEM, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := map[string]any{"PROVISIONING_TICKET": o.ticket, "SSL_CA_PATH": "cas"}
	if o.hub != "" {
		cfg["AD_HUB"] = o.hub
	}
	if o.proxy != "" {
		cfg["HTTP_PROXY"] = o.proxy
	}
	for k, v := range o.extra {
		cfg[k] = v
	}
	data, _ := json.Marshal(cfg)
	c, err := connector.ParseConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	p := &platform.Platform{OS: "linux", Family: "debian", Paths: platform.Paths{InstallDir: dir}}
	return &Env{Platform: p, Config: c, ServiceEnv: map[string]string{}}, cas
}

func runOne(t *testing.T, c Check, env *Env, timeout time.Duration) Result {
	t.Helper()
	rep, err := Run(context.Background(), env, []Check{c}, Options{Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Checks[0]
	t.Logf("%s: %s: %s | fix: %s | %v", r.ID, r.Status, r.Diagnosis, r.Remediation, r.Detail)
	return r
}

func want(t *testing.T, r Result, status Status, words ...string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("%s: status %s, want %s (%s)", r.ID, r.Status, status, r.Diagnosis)
	}
	for _, w := range words {
		if !strings.Contains(r.Diagnosis, w) {
			t.Errorf("%s: diagnosis %q does not name %q", r.ID, r.Diagnosis, w)
		}
	}
	all := r.Diagnosis + r.Remediation
	for _, v := range r.Detail {
		if s, ok := v.(string); ok {
			all += s
		}
	}
	if strings.Contains(all, "TESTTICKET") || strings.Contains(all, "s3cret") {
		t.Errorf("%s: a secret leaked: %s", r.ID, all)
	}
}

func TestTenantReach(t *testing.T) {
	ten := testbed.StartTenant(t, testbed.TenantOptions{})
	env, cas := tenantEnv(t, tenantEnvOpts{ticket: ten.TicketURL})
	testbed.WriteCA(t, cas, "root.pem", ten.Root)
	want(t, runOne(t, tenantReach{}, env, 5*time.Second), Pass, "200 OK")

	// DNS, TCP connect and TLS failures are named.
	env, _ = tenantEnv(t, tenantEnvOpts{ticket: "https://no-such-tenant.invalid/p/ad/TESTTICKET"})
	want(t, runOne(t, tenantReach{}, env, 5*time.Second), Fail, "DNS", "no-such-tenant.invalid")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	_ = ln.Close()
	env, _ = tenantEnv(t, tenantEnvOpts{ticket: "https://" + closed + "/p/ad/TESTTICKET"})
	want(t, runOne(t, tenantReach{}, env, 5*time.Second), Fail, "TCP connect", "refused")

	env, _ = tenantEnv(t, tenantEnvOpts{ticket: ten.TicketURL}) // root not trusted
	want(t, runOne(t, tenantReach{}, env, 5*time.Second), Fail, "TLS", nodeIssuerLocally)
}

func TestTenantTLS(t *testing.T) {
	cases := []struct {
		name   string
		chain  testbed.Chain
		trust  bool
		status Status
		words  []string
	}{
		{"good", testbed.ChainGood, true, Pass, []string{"adldapctl test root"}},
		{"missing intermediate", testbed.ChainMissingIntermediate, true, Fail, []string{nodeLeafSignature, "adldapctl test intermediate"}},
		{"root untrusted", testbed.ChainGood, false, Fail, []string{nodeIssuerLocally, "adldapctl test root"}},
		{"root in chain untrusted", testbed.ChainFull, false, Fail, []string{nodeSelfSignedInCh, "adldapctl test root"}},
		{"self-signed leaf", testbed.ChainSelfSigned, true, Fail, []string{nodeDepthZero}},
		{"expired", testbed.ChainExpired, true, Fail, []string{nodeExpired}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ten := testbed.StartTenant(t, testbed.TenantOptions{Chain: tc.chain})
			env, cas := tenantEnv(t, tenantEnvOpts{ticket: ten.TicketURL})
			if tc.trust {
				testbed.WriteCA(t, cas, "root.pem", ten.Root)
			}
			r := runOne(t, tenantTLS{}, env, 5*time.Second)
			want(t, r, tc.status, tc.words...)
			if tc.status == Fail && r.Detail["node_error"] == nil {
				t.Errorf("no node_error in %v", r.Detail)
			}
		})
	}
}

// TestTenantTLSMissingCAImported: the missing intermediate, once in the
// connector's SSL_CA_PATH folder, makes the chain verify.
func TestTenantTLSMissingCAImported(t *testing.T) {
	ten := testbed.StartTenant(t, testbed.TenantOptions{Chain: testbed.ChainMissingIntermediate})
	env, cas := tenantEnv(t, tenantEnvOpts{ticket: ten.TicketURL})
	testbed.WriteCA(t, cas, "root.pem", ten.Root)
	want(t, runOne(t, tenantTLS{}, env, 5*time.Second), Fail, nodeLeafSignature, "adldapctl test intermediate")
	testbed.WriteCA(t, cas, "intermediate.crt", ten.Inter)
	r := runOne(t, tenantTLS{}, env, 5*time.Second)
	want(t, r, Pass, "adldapctl test root")

	// Without its root, a trusted intermediate is not enough for Node
	// (no partial chains): the root is named as the missing issuer.
	if err := os.Remove(filepath.Join(cas, "root.pem")); err != nil {
		t.Fatal(err)
	}
	want(t, runOne(t, tenantTLS{}, env, 5*time.Second), Fail, nodeIssuerLocally, `issuer "CN=adldapctl test root`)
}

func TestCertsThumbprint(t *testing.T) {
	ten := testbed.StartTenant(t, testbed.TenantOptions{})
	env, cas := tenantEnv(t, tenantEnvOpts{ticket: ten.TicketURL, certPEM: ten.ConnectorCertPEM})
	testbed.WriteCA(t, cas, "root.pem", ten.Root)
	want(t, runOne(t, certsThumbprint{}, env, 5*time.Second), Pass)

	bad := testbed.StartTenant(t, testbed.TenantOptions{Thumbprint: "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33"})
	env, cas = tenantEnv(t, tenantEnvOpts{ticket: bad.TicketURL, certPEM: ten.ConnectorCertPEM})
	testbed.WriteCA(t, cas, "root.pem", bad.Root)
	want(t, runOne(t, certsThumbprint{}, env, 5*time.Second), Fail, "00112233445566778899AABBCCDDEEFF00112233", "does not know")
}

func TestClockSkew(t *testing.T) {
	cases := []struct {
		name    string
		skew    time.Duration
		latency time.Duration
		status  Status
		words   []string
	}{
		{"10s off, 1s latency", 10 * time.Second, time.Second, Fail, []string{"behind", "5 s"}},
		{"10s ahead, 1s latency", -10 * time.Second, time.Second, Fail, []string{"ahead", "5 s"}},
		{"300ms off, 1s latency", 300 * time.Millisecond, time.Second, Pass, nil},
		{"3s off", 3 * time.Second, 0, Warn, []string{"behind"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ten := testbed.StartTenant(t, testbed.TenantOptions{Skew: tc.skew, Latency: tc.latency})
			env, cas := tenantEnv(t, tenantEnvOpts{ticket: ten.TicketURL})
			testbed.WriteCA(t, cas, "root.pem", ten.Root)
			r := runOne(t, clockSkew{}, env, 8*time.Second)
			want(t, r, tc.status, tc.words...)
			if _, ok := r.Detail["uncertainty_ms"]; !ok {
				t.Errorf("no uncertainty in %v", r.Detail)
			}
		})
	}
}

func TestTenantHub(t *testing.T) {
	ten := testbed.StartTenant(t, testbed.TenantOptions{})
	env, cas := tenantEnv(t, tenantEnvOpts{ticket: ten.TicketURL, hub: ten.HubURL})
	testbed.WriteCA(t, cas, "root.pem", ten.Root)
	want(t, runOne(t, tenantHub{}, env, 5*time.Second), Pass, "wss://")

	// An endpoint that does not upgrade (here /test answers 200).
	env, cas = tenantEnv(t, tenantEnvOpts{ticket: ten.TicketURL, hub: ten.URL + "/test"})
	testbed.WriteCA(t, cas, "root.pem", ten.Root)
	want(t, runOne(t, tenantHub{}, env, 5*time.Second), Fail, "WebSocket upgrade", "101")
}

// TestTenantChecksSilentPeers: tenant and hub accept and never answer;
// with a 3 s timeout every tenant-side check fails (not skips) and the run
// ends within 5 s.
func TestTenantChecksSilentPeers(t *testing.T) {
	ten := testbed.StartTenant(t, testbed.TenantOptions{})
	addr := testbed.StartSilent(t)
	env, _ := tenantEnv(t, tenantEnvOpts{ticket: "https://" + addr + "/p/ad/TESTTICKET", hub: "https://" + addr + "/lo/hub", certPEM: ten.ConnectorCertPEM})
	start := time.Now()
	rep, err := Run(context.Background(), env, tenantChecks(), Options{Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v, want < 5s", d)
	}
	if len(rep.Checks) != 5 {
		t.Fatalf("%d checks", len(rep.Checks))
	}
	for _, r := range rep.Checks {
		t.Logf("%s: %s: %s", r.ID, r.Status, r.Diagnosis)
		want(t, r, Fail, "never answered")
	}
}
