//go:build acceptance && linux

package acceptance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/internal/testbed"
	"github.com/adldapctl/adldapctl/internal/testfeed"
)

// updateBed is a container with 6.4.1 installed and the customer's files in
// place: config.json (with PORT), certs/cert.key, a customised profile
// mapper and an SSL_CA_PATH folder inside the install dir.
type updateBed struct {
	c    *testbed.Container
	feed *testfeed.Server
	port int
}

var customerFiles = []string{"config.json", "certs/cert.key", "lib/profileMapper.js", "ca/corp-root.pem"}

func newUpdateBed(t *testing.T, port int, rels ...testfeed.ReleaseSpec) *updateBed {
	t.Helper()
	testbed.RequireRoot(t)
	bin := buildLinux(t)
	feed, err := testfeed.Start("127.0.0.1:0", rels)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(feed.Close)
	c := testbed.StartContainer(t)
	c.CopyIn(t, bin, "/usr/local/bin/adldapctl", 0o755)
	inst := "/opt/auth0-adldap"
	c.ExecOK(t, "mkdir", "-p", inst+"/certs", inst+"/lib", inst+"/ca")
	c.WriteFile(t, inst+"/config.json", []byte(fmt.Sprintf("{\n  \"PORT\": %d,\n  \"SSL_CA_PATH\": \"/opt/auth0-adldap/ca\"\n}\n", port)), 0o600)
	c.WriteFile(t, inst+"/certs/cert.key", []byte("-----BEGIN PRIVATE KEY-----\nfixture\n-----END PRIVATE KEY-----\n"), 0o600)
	c.WriteFile(t, inst+"/lib/profileMapper.js", []byte("module.exports = function (u) { return { customised: true, id: u && u.id }; };\n"), 0o644)
	c.WriteFile(t, inst+"/ca/corp-root.pem", []byte("-----BEGIN CERTIFICATE-----\nfixture\n-----END CERTIFICATE-----\n"), 0o644)
	b := &updateBed{c: c, feed: feed, port: port}
	if _, stderr, code := b.adl(t, "install", "--version", "6.4.1", "--ticket", ticket); code != 0 {
		t.Fatalf("install: exit %d\n%s", code, stderr)
	}
	waitVersion(t, port, "6.4.1")
	return b
}

func (b *updateBed) adl(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return b.c.Exec(t, append([]string{"adldapctl", "--feed", b.feed.URL}, args...)...)
}

func (b *updateBed) files(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, rel := range customerFiles {
		data, err := os.ReadFile(filepath.Join(b.c.Dir, "opt/auth0-adldap", rel))
		if err != nil {
			m[rel] = "<missing: " + err.Error() + ">"
			continue
		}
		m[rel] = string(data)
	}
	return m
}

func sameFiles(t *testing.T, what string, want, got map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: customer file %s changed:\nwas %q\nnow %q", what, k, v, got[k])
		}
	}
}

func (b *updateBed) active(t *testing.T) bool {
	out, _, _ := b.c.Exec(t, "systemctl", "is-active", "auth0-adldap.service")
	return strings.TrimSpace(out) == "active"
}

func TestLinuxUpdateHealthGateAndRollback(t *testing.T) {
	b := newUpdateBed(t, 38421, testfeed.ReleaseSpec{Version: "6.4.1"}, testfeed.ReleaseSpec{Version: "6.5.0"})
	orig := b.files(t)
	if !strings.Contains(orig["config.json"], ticket) {
		t.Fatal("ticket not written into the existing config.json")
	}

	stdout, _, code := b.adl(t, "--json", "update", "--check")
	var chk map[string]any
	json.Unmarshal([]byte(stdout), &chk)
	if code != 10 || chk["installed"] != "6.4.1" || chk["latest"] != "6.5.0" || chk["update_available"] != true || chk["channel"] != "stable" {
		t.Fatalf("update --check: exit %d %s", code, stdout)
	}

	stdout, stderr, code := b.adl(t, "update", "--health-grace", "3s")
	t.Logf("update to 6.5.0:\n%s%s", stdout, stderr)
	if code != 0 {
		t.Fatalf("update: exit %d", code)
	}
	waitVersion(t, b.port, "6.5.0")
	sameFiles(t, "update 6.4.1 -> 6.5.0", orig, b.files(t))

	// A release whose server.js exits at start is rolled back automatically.
	if err := b.feed.AddRelease(testfeed.ReleaseSpec{Version: "6.6.0", Sample: testfeed.SampleOptions{CrashOnStart: true}}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	stdout, stderr, code = b.adl(t, "update", "--health-grace", "3s")
	t.Logf("update to broken 6.6.0 (%s):\n%s%s", time.Since(start).Round(time.Millisecond), stdout, stderr)
	if code != 1 {
		t.Fatalf("broken update: exit %d, want 1", code)
	}
	if !strings.Contains(stderr, "rolled back to 6.5.0") || !strings.Contains(stderr, "/var/log/auth0-adldap.log") {
		t.Errorf("message must say it rolled back and where the log is:\n%s", stderr)
	}
	waitVersion(t, b.port, "6.5.0")
	if !b.active(t) {
		t.Error("service not active after the automatic rollback")
	}
	sameFiles(t, "failed update to 6.6.0", orig, b.files(t))
	stdout, _, _ = b.adl(t, "--json", "status")
	var st map[string]any
	json.Unmarshal([]byte(stdout), &st)
	if st["version"] != "6.5.0" || st["previous_version"] != "6.4.1" {
		t.Errorf("status after failed update: %s", stdout)
	}

	// rollback brings back 6.4.1 with the customer files as they are now.
	stdout, stderr, code = b.adl(t, "rollback", "--health-grace", "2s")
	t.Logf("rollback:\n%s%s", stdout, stderr)
	if code != 0 {
		t.Fatalf("rollback: exit %d", code)
	}
	waitVersion(t, b.port, "6.4.1")
	sameFiles(t, "rollback", orig, b.files(t))
	if !b.active(t) {
		t.Error("service not active after rollback")
	}
}

// TestLinuxUpdateCrashAtEveryPhase kills adldapctl -9 at every phase
// boundary of an update; the next command must recover to a consistent,
// running install with the customer files intact and the journal cleared.
func TestLinuxUpdateCrashAtEveryPhase(t *testing.T) {
	b := newUpdateBed(t, 38422, testfeed.ReleaseSpec{Version: "6.4.1"}, testfeed.ReleaseSpec{Version: "6.5.0"})
	orig := b.files(t)

	// Two concurrent updates: the second exits at once naming the holder.
	first := b.startPaused(t, "stage")
	start := time.Now()
	_, stderr, code := b.adl(t, "update", "--health-grace", "1s")
	if code == 0 || !strings.Contains(stderr, fmt.Sprintf("pid %d", first.nsPID)) || time.Since(start) > 10*time.Second {
		t.Errorf("second update: exit %d after %s, want a quick failure naming pid %d:\n%s", code, time.Since(start), first.nsPID, stderr)
	}
	first.kill(t)

	phases := []string{"stage", "resolve", "download", "verify", "stop", "switch", "switch-mid", "start", "health", "commit"}
	for i, phase := range phases {
		if i > 0 {
			b.startPaused(t, phase).kill(t)
		}
		stdout, stderr, code := b.adl(t, "--json", "status")
		if code != 0 || !strings.Contains(stderr, "recovered") {
			t.Fatalf("%s: status after kill -9: exit %d, no recovery reported\n%s", phase, code, stderr)
		}
		if _, err := os.Stat(filepath.Join(b.c.Dir, "var/lib/adldapctl/journal.json")); !os.IsNotExist(err) {
			t.Errorf("%s: journal not cleared: %v", phase, err)
		}
		var st struct {
			Version string `json:"version"`
		}
		json.Unmarshal([]byte(stdout), &st)
		if st.Version != "6.4.1" && st.Version != "6.5.0" {
			t.Fatalf("%s: installed version %q", phase, st.Version)
		}
		waitVersion(t, b.port, st.Version) // running, and the version the record says
		if !b.active(t) {
			t.Errorf("%s: service not active after recovery", phase)
		}
		sameFiles(t, "kill -9 at "+phase, orig, b.files(t))
		t.Logf("kill -9 at %-10s -> recovered to %s: %s", phase, st.Version, strings.TrimSpace(stderr))
		if st.Version == "6.5.0" {
			if _, stderr, code := b.adl(t, "update", "--version", "6.4.1", "--allow-downgrade", "--health-grace", "1s"); code != 0 {
				t.Fatalf("%s: reset to 6.4.1: exit %d\n%s", phase, code, stderr)
			}
		}
		if left, _ := filepath.Glob(filepath.Join(b.c.Dir, "opt/.auth0-adldap.*")); len(left) > 1 {
			t.Errorf("%s: stray folders %v", phase, left)
		}
	}
}

type paused struct {
	cmd     *exec.Cmd
	hostPID int
	nsPID   int
	stderr  *bytes.Buffer
}

// startPaused runs `adldapctl update --version 6.5.0` in the container with
// the test hook pausing it when it enters phase, and waits until it does.
func (b *updateBed) startPaused(t *testing.T, phase string) *paused {
	t.Helper()
	cmd := exec.Command("nsenter", "-t", strconv.Itoa(b.c.PID), "-a",
		"env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "ADLDAPCTL_TEST_HOOK="+phase+":pause",
		"adldapctl", "--feed", b.feed.URL, "update", "--version", "6.5.0", "--health-grace", "1s")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &paused{cmd: cmd, stderr: &errb}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if s := errb.String(); strings.Contains(s, "paused at "+phase+" ") {
			fmt.Sscanf(s[strings.Index(s, "(pid ")+5:], "%d", &p.nsPID)
			p.hostPID = findHostPID(t, "ADLDAPCTL_TEST_HOOK="+phase+":pause")
			return p
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	t.Fatalf("update never paused at %s:\n%s", phase, errb.String())
	return nil
}

// kill sends SIGKILL to the paused adldapctl (by its pid) and reaps nsenter.
func (p *paused) kill(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(p.hostPID, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %d: %v", p.hostPID, err)
	}
	p.cmd.Wait()
}

// findHostPID finds the host pid of the adldapctl process whose environment
// holds marker.
func findHostPID(t *testing.T, marker string) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if !bytes.HasPrefix(cmdline, []byte("adldapctl\x00")) {
			continue
		}
		env, _ := os.ReadFile("/proc/" + e.Name() + "/environ")
		if bytes.Contains(env, []byte(marker)) {
			return pid
		}
	}
	t.Fatalf("no adldapctl process with %s", marker)
	return 0
}
