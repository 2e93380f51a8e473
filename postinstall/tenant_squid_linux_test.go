//go:build linux

package postinstall

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/internal/testbed"
)

// TestTenantThroughSquid goes through the real squid Basic-auth bed, the
// way the connector does: HTTP_PROXY used for https (CONNECT), the
// service environment beating config.json, loopback not exempted.
func TestTenantThroughSquid(t *testing.T) {
	sq := testbed.StartSquidProxy(t, "verify", "s3cret")
	ten := testbed.StartTenant(t, testbed.TenantOptions{})
	bad := strings.Replace(sq.URL, "s3cret", "wrong", 1)

	t.Run("service env beats config.json", func(t *testing.T) {
		env, cas := tenantEnv(t, tenantEnvOpts{ticket: ten.TicketURL, hub: ten.HubURL, proxy: bad, certPEM: ten.ConnectorCertPEM})
		testbed.WriteCA(t, cas, "root.pem", ten.Root)
		env.ServiceEnv["HTTP_PROXY"] = sq.URL
		r := runOne(t, tenantReach{}, env, 8*time.Second)
		// Reached, but only with credentials the connector may not send.
		want(t, r, Warn, "200 OK", "service environment", "407", "tunnel agent")
		want(t, runOne(t, tenantHub{}, env, 8*time.Second), Pass, "WebSocket upgrade")
		want(t, runOne(t, certsThumbprint{}, env, 8*time.Second), Pass)
		want(t, runOne(t, clockSkew{}, env, 8*time.Second), Pass)
		// A private root behind a proxy is what interception looks like.
		r = runOne(t, tenantTLS{}, env, 8*time.Second)
		want(t, r, Warn, "TLS-intercepting proxy")
		if !strings.Contains(r.Remediation, "adldapctl certs import --from-url https://"+strings.TrimPrefix(ten.URL, "https://")+" --fingerprint ") {
			t.Errorf("remediation %q", r.Remediation)
		}
	})
	t.Run("407", func(t *testing.T) {
		env, cas := tenantEnv(t, tenantEnvOpts{ticket: ten.TicketURL, hub: ten.HubURL, proxy: bad})
		testbed.WriteCA(t, cas, "root.pem", ten.Root)
		r := runOne(t, tenantReach{}, env, 8*time.Second)
		want(t, r, Fail, "proxy CONNECT", "407")
		if r.Detail["status"] != 407 {
			t.Errorf("status detail %v", r.Detail["status"])
		}
		want(t, runOne(t, tenantHub{}, env, 8*time.Second), Fail, "proxy CONNECT", "407")
		u, _ := url.Parse(sq.URL)
		u.User = nil
		env, cas = tenantEnv(t, tenantEnvOpts{ticket: ten.TicketURL, proxy: u.String()})
		testbed.WriteCA(t, cas, "root.pem", ten.Root)
		want(t, runOne(t, tenantReach{}, env, 8*time.Second), Fail, "407", "no credentials")
	})
	t.Run("self-signed root in chain behind the proxy", func(t *testing.T) {
		full := testbed.StartTenant(t, testbed.TenantOptions{Chain: testbed.ChainFull})
		env, _ := tenantEnv(t, tenantEnvOpts{ticket: full.TicketURL, proxy: sq.URL})
		r := runOne(t, tenantTLS{}, env, 8*time.Second)
		want(t, r, Fail, nodeSelfSignedInCh, "adldapctl test root", "TLS-intercepting proxy")
	})
}
