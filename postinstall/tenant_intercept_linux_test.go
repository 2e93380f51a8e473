//go:build linux

package postinstall

import (
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/internal/testbed"
)

// TestTenantTLSBehindInterceptingSquid: behind squid-openssl's ssl_bump
// the chain ends in the proxy's own self-signed CA: Node's
// SELF_SIGNED_CERT_IN_CHAIN, named as interception; once that CA is
// trusted the chain verifies, still flagged as intercepted.
func TestTenantTLSBehindInterceptingSquid(t *testing.T) {
	bump := testbed.StartInterceptor(t)
	ten := testbed.StartTenant(t, testbed.TenantOptions{})
	env, cas := tenantEnv(t, tenantEnvOpts{ticket: ten.TicketURL, proxy: bump.URL})
	testbed.WriteCA(t, cas, "root.pem", ten.Root) // the real tenant's root is trusted
	r := runOne(t, tenantTLS{}, env, 8*time.Second)
	want(t, r, Fail, nodeSelfSignedInCh, "adldapctl test inspection CA", "TLS-intercepting proxy")

	testbed.WriteCA(t, cas, "inspection.pem", bump.CA)
	r = runOne(t, tenantTLS{}, env, 8*time.Second)
	want(t, r, Warn, "TLS-intercepting proxy", "adldapctl test inspection CA")
	want(t, runOne(t, tenantReach{}, env, 8*time.Second), Pass, "200 OK")
}
