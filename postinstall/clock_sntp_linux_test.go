//go:build linux

package postinstall

import (
	"context"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/internal/testbed"
)

// TestClockSkewSNTP: chrony under faketime serves a clock 10 s ahead; with
// the tenant unreachable, SNTP alone decides (fail), and one in step passes.
func TestClockSkewSNTP(t *testing.T) {
	for _, tc := range []struct {
		off    time.Duration
		status Status
		words  []string
	}{
		{10 * time.Second, Fail, []string{"behind", "sntp", "5 s"}},
		{0, Pass, []string{"sntp"}},
	} {
		ntpAddr := testbed.StartChrony(t, tc.off)
		smp, err := sntpSample(context.Background(), ntpAddr)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("sntp offset %v ± %v", smp.Offset, smp.Uncertainty)
		env, _ := tenantEnv(t, tenantEnvOpts{ticket: "https://no-such-tenant.invalid/p/ad/TESTTICKET"})
		env.NTPServer = ntpAddr
		r := runOne(t, clockSkew{}, env, 5*time.Second)
		want(t, r, tc.status, tc.words...)
		if r.Detail["tenant_error"] == nil {
			t.Errorf("the tenant's failure is not reported: %v", r.Detail)
		}
	}
}
