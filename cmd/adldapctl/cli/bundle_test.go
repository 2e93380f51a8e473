package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/adldapctl/adldapctl/internal/testbed"
	"github.com/adldapctl/adldapctl/internal/testfeed"
	"github.com/adldapctl/adldapctl/updater"
)

// hostNodeABI is the host node's major version and ABI.
func hostNodeABI(t *testing.T) (version string, major, abi int) {
	t.Helper()
	out, err := exec.Command("node", "-p", `process.version+" "+process.versions.modules`).Output()
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(out))
	version = f[0]
	major, _ = strconv.Atoi(strings.SplitN(strings.TrimPrefix(version, "v"), ".", 2)[0])
	abi, _ = strconv.Atoi(f[1])
	return version, major, abi
}

// offlineNPM points npm at a private cache and a registry nothing answers
// on: the sample's only dependency is a local file: tarball.
func offlineNPM(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("npm"); err != nil {
		testbed.Missing(t, "npm (make test installs it)")
	}
	t.Setenv("npm_config_cache", t.TempDir())
	t.Setenv("npm_config_registry", "http://127.0.0.1:9/")
	t.Setenv("npm_config_update_notifier", "false")
}

// TestMirrorBundleAirGapped builds a bundle of a sample with a real npm
// dependency with the host's npm, installs it from the signed mirror with
// no npm on PATH, and refuses a bundle built for another node major.
func TestMirrorBundleAirGapped(t *testing.T) {
	requireNode(t)
	offlineNPM(t)
	nodeVer, major, abi := hostNodeABI(t)
	keys := t.TempDir()
	pub, key := filepath.Join(keys, "k.pub"), filepath.Join(keys, "k.key")
	if _, err := updater.GenerateKeyPair(pub, key, ""); err != nil {
		t.Fatal(err)
	}
	srcDir := t.TempDir()
	tb, err := testfeed.SourceTarball("6.4.1", testfeed.SampleOptions{Dependency: true})
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(srcDir, "ad-ldap-connector-v6.4.1.tar.gz")
	os.WriteFile(src, tb, 0o644)

	if r := run(t, "mirror", "build", t.TempDir(), "--key", key, "--from", src); r.code != 2 {
		t.Errorf("--from without --bundle: exit %d, want 2", r.code)
	}
	dir := t.TempDir()
	r := run(t, "mirror", "build", dir, "--bundle", "--from", src, "--key", key)
	if r.code != 0 || !strings.Contains(r.stdout, "1 bundles") {
		t.Fatalf("mirror build --bundle: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	arch := updater.NodeArch(strings.TrimSpace(string(must(exec.Command("node", "-p", "process.arch").Output()))))
	name := updater.BundleName("6.4.1", arch, major)
	bundle := filepath.Join(dir, name)
	if _, err := os.Stat(filepath.Join(dir, "ad-ldap-connector-v6.4.1.tar.gz")); err != nil {
		t.Errorf("the source release is not beside the bundle: %v", err)
	}
	var meta updater.MirrorMeta
	if err := json.Unmarshal(must(os.ReadFile(filepath.Join(dir, "releases.json"))), &meta); err != nil {
		t.Fatal(err)
	}
	if len(meta.Releases) != 1 || len(meta.Releases[0].Bundles) != 1 || len(meta.Releases[0].Artifacts) != 1 {
		t.Fatalf("releases.json: %+v", meta.Releases)
	}
	if b := meta.Releases[0].Bundles[0]; b.File != name || b.NodeMajor != major || b.NodeABI != abi || b.OS != "linux" || b.Arch != arch || b.NodeVersion != nodeVer {
		t.Errorf("bundle entry %+v, want node %s (major %d, ABI %d) on %s", b, nodeVer, major, abi, arch)
	}
	m, _, found, err := updater.ReadBundleManifest(bundle)
	if err != nil || !found || m.NodeABI != abi || m.LockfileSHA256 == "" {
		t.Fatalf("manifest %+v %v %v", m, found, err)
	}
	// The same release built again with the same node and lockfile gives
	// the same bytes.
	dir2 := t.TempDir()
	if r := run(t, "mirror", "build", dir2, "--bundle", "--from", src, "--key", key); r.code != 0 {
		t.Fatalf("second build: %d %s", r.code, r.stderr)
	}
	if !bytes.Equal(must(os.ReadFile(bundle)), must(os.ReadFile(filepath.Join(dir2, name)))) {
		t.Error("two builds of the bundle differ")
	}

	// The server: node, no npm.
	bin := t.TempDir()
	nodePath := must(exec.LookPath("node"))
	if err := os.Symlink(nodePath, filepath.Join(bin, "node")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	root := t.TempDir()
	r = run(t, "--root", root, "--feed", dir, "--trusted-key", pub, "--verbose", "install", "--ticket", ticket)
	if r.code != 0 {
		t.Fatalf("install from the bundle: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "using the bundle "+name) || strings.Contains(r.stderr, "running npm") {
		t.Errorf("install did not say it used the bundle, or ran npm:\n%s", r.stderr)
	}
	inst := filepath.Join(root, "opt", "auth0-adldap")
	if _, err := os.Stat(filepath.Join(inst, "node_modules", testfeed.DepName, "index.js")); err != nil {
		t.Errorf("dependency not installed: %v", err)
	}
	// The installed tree runs and loads its dependency.
	out, err := exec.Command(nodePath, "-e", `const p=require("path");process.chdir(process.argv[1]);console.log(require(p.join(process.argv[1],"node_modules",process.argv[2])).greet())`, inst, testfeed.DepName).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != testfeed.DepGreeting {
		t.Errorf("dependency from the installed tree: %v %s", err, out)
	}

	// A bundle whose manifest names another node major: refused before any
	// change, naming both.
	other := filepath.Join(t.TempDir(), updater.BundleName("6.4.1", arch, major+2))
	if err := testfeed.EditBundleManifest(bundle, other, func(m map[string]any) {
		m["node_major"], m["node_abi"], m["node_version"] = major+2, 999, fmt.Sprintf("v%d.1.0", major+2)
	}); err != nil {
		t.Fatal(err)
	}
	root2 := t.TempDir()
	os.MkdirAll(filepath.Join(root2, "opt", "auth0-adldap"), 0o755)
	os.WriteFile(filepath.Join(root2, "opt", "auth0-adldap", "config.json"), []byte("{\"PORT\": 0}\n"), 0o600)
	before := treeDigest(t, filepath.Join(root2, "opt"))
	r = run(t, "--root", root2, "install", "--from", other)
	if r.code != ExitFailed {
		t.Fatalf("install of a bundle for node %d: exit %d, want %d\n%s", major+2, r.code, ExitFailed, r.stderr)
	}
	for _, want := range []string{
		fmt.Sprintf("bundle built for node %d (ABI 999)", major+2),
		fmt.Sprintf("this host runs node %s (ABI %d)", strings.TrimPrefix(nodeVer, "v"), abi),
		fmt.Sprintf("rebuild the bundle with node %d", major),
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("refusal lacks %q:\n%s", want, r.stderr)
		}
	}
	if after := treeDigest(t, filepath.Join(root2, "opt")); after != before {
		t.Error("the refused bundle changed the install folder")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
