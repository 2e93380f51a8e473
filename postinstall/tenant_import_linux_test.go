//go:build linux

package postinstall

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/internal/testbed"
	"github.com/adldapctl/adldapctl/platform"
)

// TestTenantTLSAfterCertsImport: a server that omits its intermediate
// fails with UNABLE_TO_VERIFY_LEAF_SIGNATURE naming it; after a real
// `adldapctl certs import` of that CA (a new process, under --root, into
// the connector's SSL_CA_PATH folder) the chain verifies.
func TestTenantTLSAfterCertsImport(t *testing.T) {
	if testing.Short() {
		t.Skip("builds adldapctl")
	}
	ten := testbed.StartTenant(t, testbed.TenantOptions{Chain: testbed.ChainMissingIntermediate})
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "adldapctl")
	testbed.BuildTool(t, bin, testbed.BuildOptions{})

	root := filepath.Join(tmp, "root")
	probe, err := platform.Detect(root)
	if err != nil {
		t.Fatal(err)
	}
	install := probe.Paths.InstallDir
	cas := filepath.Join(install, "cas")
	if err := os.MkdirAll(cas, 0o755); err != nil {
		t.Fatal(err)
	}
	testbed.WriteCA(t, cas, "root.pem", ten.Root)
	cfg := `{"PROVISIONING_TICKET": "` + ten.TicketURL + `", "SSL_CA_PATH": "cas"}`
	if err := os.WriteFile(probe.Paths.ConfigFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func() *Env {
		p, err := platform.Detect(root)
		if err != nil {
			t.Fatal(err)
		}
		c, err := connector.ReadConfig(p.Paths.ConfigFile)
		if err != nil {
			t.Fatal(err)
		}
		return &Env{Platform: p, Config: c}
	}
	want(t, runOne(t, tenantTLS{}, env(), 5*time.Second), Fail, nodeLeafSignature, "adldapctl test intermediate")

	inter := testbed.WriteCA(t, tmp, "intermediate.pem", ten.Inter)
	out, err := exec.Command(bin, "--root", root, "--yes", "certs", "import", inter, "--no-restart").CombinedOutput()
	t.Logf("adldapctl certs import:\n%s", out)
	if err != nil {
		t.Fatalf("certs import: %v", err)
	}
	want(t, runOne(t, tenantTLS{}, env(), 5*time.Second), Pass)
}
