//go:build acceptance && linux

package acceptance

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/internal/testbed"
	"github.com/adldapctl/adldapctl/internal/testfeed"
	"github.com/adldapctl/adldapctl/updater"
)

// Acceptance 5 of issue 11: a bundle of a sample connector with a real npm
// dependency (a local file: tarball), built by `mirror build --bundle` on
// the host, installs and runs in a container with no network route at all
// and no npm; a bundle whose manifest names another node major is refused
// before any change, naming both.
func TestLinuxBundleAirGapped(t *testing.T) {
	testbed.RequireRoot(t)
	if _, err := exec.LookPath("npm"); err != nil {
		testbed.Missing(t, "npm on the host (it builds the bundle; scripts/deps.sh installs it)")
	}
	start := time.Now()
	bin := buildLinux(t)

	// The connected machine: build the signed mirror with the bundle.
	work := t.TempDir()
	keys := filepath.Join(work, "keys")
	os.Mkdir(keys, 0o700)
	if _, err := updater.GenerateKeyPair(filepath.Join(keys, "k.pub"), filepath.Join(keys, "k.key"), ""); err != nil {
		t.Fatal(err)
	}
	tb, err := testfeed.SourceTarball("6.4.1", testfeed.SampleOptions{Dependency: true})
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(work, "ad-ldap-connector-v6.4.1.tar.gz")
	if err := os.WriteFile(src, tb, 0o644); err != nil {
		t.Fatal(err)
	}
	mirror := filepath.Join(work, "mirror")
	os.Mkdir(mirror, 0o755)
	build := exec.Command(bin, "mirror", "build", mirror, "--bundle", "--from", src, "--key", filepath.Join(keys, "k.key"))
	// npm stays offline: a private cache, and a registry nothing answers
	// on (the only dependency is the file: tarball in the release).
	build.Env = append(os.Environ(), "npm_config_cache="+filepath.Join(work, "npm-cache"),
		"npm_config_registry=http://127.0.0.1:9/", "npm_config_update_notifier=false")
	out, err := build.CombinedOutput()
	if err != nil {
		t.Fatalf("mirror build --bundle: %v\n%s", err, out)
	}
	t.Logf("mirror build --bundle:\n%s", out)
	var meta updater.MirrorMeta
	if err := json.Unmarshal(must(os.ReadFile(filepath.Join(mirror, "releases.json"))), &meta); err != nil {
		t.Fatal(err)
	}
	if len(meta.Releases) != 1 || len(meta.Releases[0].Bundles) != 1 {
		t.Fatalf("releases.json has no bundle: %+v", meta.Releases)
	}
	bundle := meta.Releases[0].Bundles[0]
	major := bundle.NodeMajor

	// A bundle "built" for another node major: the same tree, its manifest
	// saying node major+2.
	otherName := updater.BundleName("6.4.1", bundle.Arch, major+2)
	other := filepath.Join(work, otherName)
	if err := testfeed.EditBundleManifest(filepath.Join(mirror, bundle.File), other, func(m map[string]any) {
		m["node_major"], m["node_abi"], m["node_version"] = major+2, bundle.NodeABI+12, fmt.Sprintf("v%d.1.0", major+2)
	}); err != nil {
		t.Fatal(err)
	}

	// The server: no network route at all, node but no npm.
	c := testbed.StartContainerWith(t, testbed.Options{PrivateNetwork: true, NoNPM: true})
	if ifs := strings.Fields(c.ExecOK(t, "ls", "/sys/class/net")); len(ifs) != 1 || ifs[0] != "lo" {
		t.Fatalf("container network interfaces %q, want lo only", ifs)
	}
	if routes := strings.Split(strings.TrimSpace(c.ExecOK(t, "cat", "/proc/net/route")), "\n"); len(routes) != 1 {
		t.Fatalf("container has IPv4 routes:\n%s", strings.Join(routes, "\n"))
	}
	if out, _, code := c.Exec(t, "sh", "-c", "command -v npm"); code == 0 {
		t.Fatalf("npm is on the container's PATH: %s", out)
	}
	c.CopyIn(t, bin, "/usr/local/bin/adldapctl", 0o755)
	for _, f := range []string{"releases.json", "releases.json.minisig", "ad-ldap-connector-v6.4.1.tar.gz", bundle.File} {
		c.CopyIn(t, filepath.Join(mirror, f), "/srv/mirror/"+f, 0o644)
	}
	c.CopyIn(t, filepath.Join(keys, "k.pub"), "/srv/mirror.pub", 0o644)
	c.CopyIn(t, other, "/srv/"+otherName, 0o644)

	const port = 38415
	inst := "/opt/auth0-adldap"
	c.ExecOK(t, "mkdir", "-p", inst)
	c.WriteFile(t, inst+"/config.json", []byte(fmt.Sprintf("{\n  \"PORT\": %d\n}\n", port)), 0o600)

	// The bundle for another node major: refused before any change.
	before := dirState(t, c.HostPath(inst))
	stdout, stderr, code := c.Exec(t, "adldapctl", "install", "--from", "/srv/"+otherName, "--ticket", ticket)
	t.Logf("install of the node %d bundle: exit %d\n%s%s", major+2, code, stdout, stderr)
	if code != 1 {
		t.Errorf("install of a bundle for node %d: exit %d, want 1", major+2, code)
	}
	hostNode := strings.TrimSpace(c.ExecOK(t, "node", "-p", `process.version.slice(1)+" (ABI "+process.versions.modules+")"`))
	for _, want := range []string{
		fmt.Sprintf("bundle built for node %d (ABI %d)", major+2, bundle.NodeABI+12),
		"this host runs node " + hostNode,
		"rebuild the bundle with node " + strconv.Itoa(major),
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("refusal does not say %q", want)
		}
	}
	if after := dirState(t, c.HostPath(inst)); after != before {
		t.Errorf("the refused bundle changed %s:\nbefore:\n%s\nafter:\n%s", inst, before, after)
	}
	if _, err := os.Stat(c.HostPath("/etc/systemd/system/auth0-adldap.service")); !os.IsNotExist(err) {
		t.Errorf("the refused bundle registered a service (%v)", err)
	}

	// The bundle that fits, from the signed mirror in a folder.
	stdout, stderr, code = c.Exec(t, "adldapctl", "--feed", "/srv/mirror", "--trusted-key", "/srv/mirror.pub", "--verbose",
		"install", "--ticket", ticket, "--health-grace", "2s")
	t.Logf("install from the mirror: exit %d\n%s%s", code, stdout, stderr)
	if code != 0 {
		t.Fatalf("install from the bundle: exit %d", code)
	}
	if !strings.Contains(stderr, "using the bundle "+bundle.File) || !strings.Contains(stdout, "npm was not run") {
		t.Errorf("install did not use the bundle")
	}
	if out, _, _ := c.Exec(t, "systemctl", "is-active", "auth0-adldap.service"); strings.TrimSpace(out) != "active" {
		t.Fatalf("service not active: %q", out)
	}
	// The connector answers inside the container, with its dependency
	// loaded at start.
	answer := waitInside(t, c, port, 30*time.Second)
	var got struct {
		Version string `json:"version"`
		Ticket  bool   `json:"ticket"`
		Dep     string `json:"dep"`
	}
	if err := json.Unmarshal([]byte(answer), &got); err != nil {
		t.Fatalf("answer %q: %v", answer, err)
	}
	if got.Version != "6.4.1" || !got.Ticket || got.Dep != testfeed.DepGreeting {
		t.Errorf("connector answered %+v, want 6.4.1 with the ticket and %q", got, testfeed.DepGreeting)
	}
	t.Logf("bundle acceptance took %v", time.Since(start).Round(time.Second))
}

// waitInside polls the connector from inside the container (its network is
// its own) with the container's node.
func waitInside(t *testing.T, c *testbed.Container, port int, timeout time.Duration) string {
	t.Helper()
	script := fmt.Sprintf(`require("http").get("http://127.0.0.1:%d/", r => { let b = ""; r.on("data", d => b += d); r.on("end", () => { process.stdout.write(b); process.exit(r.statusCode === 200 ? 0 : 1); }); }).on("error", e => { console.error(e.code); process.exit(1); })`, port)
	deadline := time.Now().Add(timeout)
	for {
		out, errOut, code := c.Exec(t, "node", "-e", script)
		if code == 0 {
			return strings.TrimSpace(out)
		}
		if time.Now().After(deadline) {
			t.Fatalf("connector on :%d not answering inside the container: %s%s", port, out, errOut)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// dirState lists a folder's entries with their modes and contents.
func dirState(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			lines = append(lines, p+" "+err.Error())
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		l := rel + " " + fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			l += " " + string(b)
		}
		lines = append(lines, l)
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
