package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/internal/testbed"
	"github.com/adldapctl/adldapctl/internal/testfeed"
	"github.com/adldapctl/adldapctl/updater"
)

type mirrorFixture struct {
	dir, pub, key string
}

// newMirror writes sample releases into a folder and signs it with a
// fresh test key through `adldapctl mirror build`.
func newMirror(t *testing.T, versions ...string) *mirrorFixture {
	t.Helper()
	keys := t.TempDir()
	m := &mirrorFixture{dir: t.TempDir(), pub: filepath.Join(keys, "test.pub"), key: filepath.Join(keys, "test.key")}
	if _, err := updater.GenerateKeyPair(m.pub, m.key, ""); err != nil {
		t.Fatal(err)
	}
	for _, v := range versions {
		tb, err := testfeed.SourceTarball(v, testfeed.SampleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(m.dir, "ad-ldap-connector-v"+v+".tar.gz"), tb, 0o644)
	}
	m.build(t, "0")
	return m
}

func (m *mirrorFixture) build(t *testing.T, counter string, extra ...string) {
	t.Helper()
	r := run(t, append([]string{"mirror", "build", m.dir, "--key", m.key, "--counter", counter}, extra...)...)
	if r.code != 0 {
		t.Fatalf("mirror build: %d %s", r.code, r.stderr)
	}
}

func TestMirrorAirGappedInstallAndUpdate(t *testing.T) {
	requireNode(t)
	m := newMirror(t, "6.4.1")
	root := t.TempDir()
	r := run(t, "--root", root, "--feed", m.dir, "--trusted-key", m.pub, "install", "--ticket", ticket)
	if r.code != 0 || !strings.Contains(r.stdout, "signed mirror") {
		t.Fatalf("install from a local mirror: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	tb, _ := testfeed.SourceTarball("6.5.0", testfeed.SampleOptions{})
	os.WriteFile(filepath.Join(m.dir, "ad-ldap-connector-v6.5.0.tar.gz"), tb, 0o644)
	m.build(t, "0")
	r = run(t, "--root", root, "--feed", "file://"+m.dir, "--trusted-key", m.pub, "update")
	if r.code != 0 || !strings.Contains(r.stdout, "updated to 6.5.0") {
		t.Fatalf("update from a mirror: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var st statusJSON
	r = run(t, "--root", root, "--json", "status")
	json.Unmarshal([]byte(r.stdout), &st)
	if st.Version != "6.5.0" || st.Verified != "signature" {
		t.Errorf("status: %+v", st)
	}
	if r := run(t, "--root", root, "--feed", m.dir, "update"); r.code != 2 || !strings.Contains(r.stderr, "--trusted-key") {
		t.Errorf("mirror without a key: exit %d %s", r.code, r.stderr)
	}
}

func TestMirrorRefusalsChangeNothing(t *testing.T) {
	requireNode(t)
	cases := []struct {
		name  string
		setup func(t *testing.T, m *mirrorFixture) (keyArg string)
	}{
		{"tampered", func(t *testing.T, m *mirrorFixture) string {
			p := filepath.Join(m.dir, "releases.json")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.Replace(b, []byte(`"6.5.0"`), []byte(`"6.9.0"`), 1), 0o644)
			return m.pub
		}},
		{"wrong-key", func(t *testing.T, m *mirrorFixture) string {
			other := t.TempDir()
			if _, err := updater.GenerateKeyPair(filepath.Join(other, "o.pub"), filepath.Join(other, "o.key"), ""); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(other, "o.pub")
		}},
		{"expired", func(t *testing.T, m *mirrorFixture) string {
			key, err := updater.LoadPrivateKey(m.key, "")
			if err != nil {
				t.Fatal(err)
			}
			past := time.Now().Add(-48 * time.Hour)
			if _, err := updater.BuildMirror(m.dir, key, updater.BuildOptions{Counter: 50, Now: func() time.Time { return past }, Expires: past.Add(24 * time.Hour)}); err != nil {
				t.Fatal(err)
			}
			return m.pub
		}},
		{"lower-counter", func(t *testing.T, m *mirrorFixture) string {
			// The install accepted counter 10; a replayed older mirror says 3.
			os.Remove(filepath.Join(m.dir, "releases.json"))
			os.Remove(filepath.Join(m.dir, "releases.json.minisig"))
			m.build(t, "3")
			return m.pub
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newMirror(t, "6.4.1", "6.5.0")
			m.build(t, "10")
			root := t.TempDir()
			if r := run(t, "--root", root, "--feed", m.dir, "--trusted-key", m.pub, "install", "--version", "6.4.1"); r.code != 0 {
				t.Fatalf("install: %d %s", r.code, r.stderr)
			}
			key := c.setup(t, m)
			before := treeDigest(t, filepath.Join(root, "opt"))
			r := run(t, "--root", root, "--feed", m.dir, "--trusted-key", key, "update")
			if r.code != 4 {
				t.Fatalf("exit %d, want 4\n%s", r.code, r.stderr)
			}
			if after := treeDigest(t, filepath.Join(root, "opt")); after != before {
				t.Error("refused mirror changed the install")
			}
		})
	}
}

// buildTool builds adldapctl with a stamped version.
// buildTool builds a test build (it honours ADLDAPCTL_TEST_HOOK).
func buildTool(t *testing.T, out, version string) {
	t.Helper()
	testbed.BuildTool(t, out, testbed.BuildOptions{Version: version, TestHooks: true})
}

func toolVersion(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("%s version: %v", bin, err)
	}
	return strings.Fields(string(out))[1]
}

func TestSelfUpdateFromSignedMirror(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries")
	}
	m := newMirror(t, "6.4.1")
	plat := runtime.GOOS + "-" + runtime.GOARCH
	buildTool(t, filepath.Join(m.dir, "adldapctl-"+plat), "0.2.0")
	os.WriteFile(filepath.Join(m.dir, "adldapctl-"+plat+".version"), []byte("0.2.0\n"), 0o644)
	m.build(t, "0")
	// Under --root: the binary at <root>/usr/bin/adldapctl (run from there,
	// so it replaces itself) and the mirror counters under the root; nothing
	// of the host's is touched.
	root := t.TempDir()
	bin := filepath.Join(root, "usr/bin/adldapctl")
	os.MkdirAll(filepath.Dir(bin), 0o755)

	// A bad signature on the new build leaves the old binary working.
	buildTool(t, bin, "0.1.0")
	sig := filepath.Join(m.dir, "adldapctl-"+plat+".minisig")
	good, _ := os.ReadFile(sig)
	other := t.TempDir()
	updater.GenerateKeyPair(filepath.Join(other, "o.pub"), filepath.Join(other, "o.key"), "")
	m2 := &mirrorFixture{dir: t.TempDir(), key: filepath.Join(other, "o.key")}
	tool, _ := os.ReadFile(filepath.Join(m.dir, "adldapctl-"+plat))
	os.WriteFile(filepath.Join(m2.dir, "adldapctl-"+plat), tool, 0o755)
	os.WriteFile(filepath.Join(m2.dir, "adldapctl-"+plat+".version"), []byte("0.2.0\n"), 0o644)
	m2.build(t, "0")
	badSig, _ := os.ReadFile(filepath.Join(m2.dir, "adldapctl-"+plat+".minisig"))
	os.WriteFile(sig, badSig, 0o644)
	before, _ := os.ReadFile(bin)
	out, err := exec.Command(bin, "--root", root, "--feed", m.dir, "--trusted-key", m.pub, "self-update").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 4 {
		t.Fatalf("bad signature: %v, want exit 4\n%s", err, out)
	}
	if after, _ := os.ReadFile(bin); !bytes.Equal(before, after) || toolVersion(t, bin) != "0.1.0" {
		t.Fatal("bad signature changed the binary")
	}

	// With the good signature it replaces itself.
	os.WriteFile(sig, good, 0o644)
	start := time.Now()
	out, err = exec.Command(bin, "--root", root, "--feed", m.dir, "--trusted-key", m.pub, "self-update").CombinedOutput()
	if err != nil {
		t.Fatalf("self-update: %v\n%s", err, out)
	}
	if v := toolVersion(t, bin); v != "0.2.0" {
		t.Fatalf("after self-update: version %s\n%s", v, out)
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/adldapctl/mirror-counters.json")); err != nil {
		t.Errorf("the mirror counters are not under the root: %v", err)
	}
	t.Logf("self-update took %s: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(string(out)))
	// GitHub feeds are never used for self-update.
	out, err = exec.Command(bin, "--root", root, "self-update").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Errorf("self-update from the GitHub feed: %v\n%s", err, out)
	}
}

func TestToolConfigNamesFeedAndKey(t *testing.T) {
	requireNode(t)
	m := newMirror(t, "6.4.1")
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc/adldapctl"), 0o755)
	cfg, _ := json.Marshal(map[string]string{"feed": m.dir, "trusted_key": m.pub})
	os.WriteFile(filepath.Join(root, "etc/adldapctl/config.json"), append([]byte("\xef\xbb\xbf"), cfg...), 0o644)
	r := run(t, "--root", root, "install")
	if r.code != 0 || !strings.Contains(r.stdout, "signed mirror") {
		t.Fatalf("install with the tool config's feed and key: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
