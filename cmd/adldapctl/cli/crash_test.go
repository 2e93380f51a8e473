package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/installer"
	"github.com/adldapctl/adldapctl/internal/testbed"
	"github.com/adldapctl/adldapctl/internal/testfeed"
)

// TestCrashAtEveryPhaseUnderRoot kills (exits 99 without cleanup, as a
// crash would) a fresh install and an update at every phase boundary; the
// next command must leave a consistent install and every customer file.
func TestCrashAtEveryPhaseUnderRoot(t *testing.T) {
	requireNode(t)
	bin := filepath.Join(t.TempDir(), "adldapctl")
	buildTool(t, bin, "0.0.1")
	feed := startFeed(t, testfeed.ReleaseSpec{Version: "6.4.1"}, testfeed.ReleaseSpec{Version: "6.5.0"})
	adl := func(root, hook string, args ...string) (string, int) {
		cmd := exec.Command(bin, append([]string{"--root", root, "--feed", feed.URL}, args...)...)
		cmd.Env = append(os.Environ(), installer.TestHookEnv+"="+hook)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		return string(out), 0
	}
	config := []byte("{\n  \"LDAP_URL\": \"ldaps://dc.example.test\"\n}\n")
	key := []byte("fixture key\n")
	phases := append([]string{"switch-mid"}, installer.Phases...)
	for _, op := range []string{"install", "update"} {
		for _, phase := range phases {
			t.Run(op+"/"+phase, func(t *testing.T) {
				t.Parallel()
				root := t.TempDir()
				inst := filepath.Join(root, "opt/auth0-adldap")
				os.MkdirAll(filepath.Join(inst, "certs"), 0o700)
				os.WriteFile(filepath.Join(inst, "config.json"), config, 0o600)
				os.WriteFile(filepath.Join(inst, "certs/cert.key"), key, 0o600)
				args := []string{"install", "--version", "6.4.1"}
				if op == "update" {
					if out, code := adl(root, "", args...); code != 0 {
						t.Fatalf("install: %d %s", code, out)
					}
					args = []string{"update", "--version", "6.5.0"}
				}
				if out, code := adl(root, phase+":exit", args...); code != 99 {
					t.Fatalf("crash at %s: exit %d\n%s", phase, code, out)
				}
				out, code := adl(root, "", "--json", "status")
				if code != 0 || !strings.Contains(out, "recovered") {
					t.Fatalf("recovery: exit %d\n%s", code, out)
				}
				if _, err := os.Stat(filepath.Join(root, "var/lib/adldapctl", installer.JournalFile)); !os.IsNotExist(err) {
					t.Error("transaction record left")
				}
				if b, _ := os.ReadFile(filepath.Join(inst, "config.json")); !bytes.Equal(b, config) {
					t.Errorf("config.json after recovery: %q", b)
				}
				if b, _ := os.ReadFile(filepath.Join(inst, "certs/cert.key")); !bytes.Equal(b, key) {
					t.Errorf("cert.key after recovery: %q", b)
				}
				installed := strings.Contains(out, `"installed": true`)
				_, serr := os.Stat(filepath.Join(inst, "server.js"))
				if installed != (serr == nil) {
					t.Errorf("record says installed=%v but server.js: %v", installed, serr)
				}
				if op == "update" && !installed {
					t.Error("an update crash left nothing installed")
				}
				if left, _ := filepath.Glob(filepath.Join(root, "opt/.auth0-adldap.*")); len(left) > 1 || (len(left) == 1 && !strings.HasSuffix(left[0], ".previous")) {
					t.Errorf("stray folders: %v", left)
				}
				// And the install works again afterwards.
				if out, code := adl(root, "", "install"); code != 0 {
					t.Fatalf("install after recovery: %d %s", code, out)
				}
			})
		}
	}
}

// TestInterruptExits130AndChangesNothing sends SIGINT during a slow
// download: exit 130, nothing installed, no transaction record left behind.
func TestInterruptExits130AndChangesNothing(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "adldapctl")
	buildTool(t, bin, "0.0.1")
	feed := startFeed(t, testfeed.ReleaseSpec{Version: "6.4.1"})
	feed.Inject(feed.TarballURL("6.4.1"), 1, testfeed.Fault{Delay: 20 * time.Second})
	root := t.TempDir()
	cmd := exec.Command(bin, "--root", root, "--feed", feed.URL, "install")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); feed.Requests(feed.TarballURL("6.4.1")) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("download never started")
		}
	}
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("after SIGINT: %v, want exit 130\n%s", err, out.String())
	}
	assertNothingInstalled(t, root)
	if _, err := os.Stat(filepath.Join(root, "var/lib/adldapctl", installer.JournalFile)); !os.IsNotExist(err) {
		t.Error("transaction record left after an interrupted install")
	}
}

// TestReleaseBuildIgnoresTestHook: a release build (no testhooks tag) does
// not act on ADLDAPCTL_TEST_HOOK; the test build does.
func TestReleaseBuildIgnoresTestHook(t *testing.T) {
	requireNode(t)
	dir := t.TempDir()
	release, test := filepath.Join(dir, "adldapctl-release"), filepath.Join(dir, "adldapctl-test")
	testbed.BuildTool(t, release, testbed.BuildOptions{})
	testbed.BuildTool(t, test, testbed.BuildOptions{TestHooks: true})
	tarball, err := testfeed.SourceTarball("6.4.1", testfeed.SampleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	art := filepath.Join(dir, "ad-ldap-connector-v6.4.1.tar.gz")
	os.WriteFile(art, tarball, 0o644)
	for _, tc := range []struct {
		bin  string
		code int
	}{{release, 0}, {test, 99}} {
		cmd := exec.Command(tc.bin, "--root", t.TempDir(), "install", "--from", art)
		cmd.Env = append(os.Environ(), installer.TestHookEnv+"=resolve:exit")
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != tc.code {
			t.Errorf("%s with %s=resolve:exit: exit %d, want %d\n%s", filepath.Base(tc.bin), installer.TestHookEnv, code, tc.code, out)
		}
	}
}
