//go:build acceptance && linux

package acceptance

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/adldapctl/adldapctl/internal/testbed"
	"github.com/adldapctl/adldapctl/updater"
)

// buildDeb runs make release's program (packaging/tools) for the host's
// Linux arch and returns the .deb for version.
func buildDeb(t *testing.T, version, key string) string {
	t.Helper()
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "release")
	cmd := exec.Command("go", "run", "./cmd/release", "-version", version, "-commit", "debtest",
		"-key", key, "-repo", repo, "-out", out, "-targets", "linux/"+runtime.GOARCH)
	cmd.Dir = filepath.Join(repo, "packaging", "tools")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release %s: %v\n%s", version, err, b)
	}
	return filepath.Join(out, "adldapctl_"+version+"_"+runtime.GOARCH+".deb")
}

// Acceptance 1 of issue 11: the release .deb installs, upgrades and purges
// with dpkg in a Debian container; the stamped version, the man page and
// bash completion work; the package starts and registers no service.
func TestLinuxDebInstallUpgradePurge(t *testing.T) {
	testbed.RequireRoot(t)
	keys := t.TempDir()
	if _, err := updater.GenerateKeyPair(filepath.Join(keys, "k.pub"), filepath.Join(keys, "k.key"), ""); err != nil {
		t.Fatal(err)
	}
	deb1 := buildDeb(t, "1.0.0", filepath.Join(keys, "k.key"))
	deb2 := buildDeb(t, "1.1.0", filepath.Join(keys, "k.key"))

	c := testbed.StartContainer(t)
	unitsBefore := c.ExecOK(t, "sh", "-c", "systemctl list-unit-files --no-legend | sort")
	c.CopyIn(t, deb1, "/tmp/adldapctl-1.deb", 0o644)
	c.CopyIn(t, deb2, "/tmp/adldapctl-2.deb", 0o644)

	c.ExecOK(t, "dpkg", "-i", "/tmp/adldapctl-1.deb")
	if out := c.ExecOK(t, "adldapctl", "version"); !strings.Contains(out, "1.0.0 (commit debtest") {
		t.Fatalf("adldapctl version after install: %q", out)
	}
	if fi, err := os.Stat(c.HostPath("/usr/bin/adldapctl")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("/usr/bin/adldapctl: %v %v", err, fi)
	}
	// The man page: man when the container has man-db, else the file's
	// roff header.
	if _, _, code := c.Exec(t, "sh", "-c", "command -v man"); code == 0 {
		if out := c.ExecOK(t, "sh", "-c", "MANPAGER=cat MANWIDTH=80 man adldapctl"); !strings.Contains(out, "adldapctl") {
			t.Errorf("man adldapctl:\n%s", out)
		}
	} else {
		out := c.ExecOK(t, "sh", "-c", "zcat /usr/share/man/man1/adldapctl.1.gz | head -5")
		if !strings.Contains(out, `.TH "ADLDAPCTL" "1"`) {
			t.Errorf("man page header:\n%s", out)
		}
		t.Log("no man in the container: checked the man page's roff header")
	}
	c.ExecOK(t, "test", "-s", "/usr/share/man/man1/adldapctl-self-update.1.gz")
	if out := c.ExecOK(t, "bash", "-c", "source /usr/share/bash-completion/completions/adldapctl && complete -p adldapctl"); !strings.Contains(out, "adldapctl") {
		t.Errorf("bash completion: %q", out)
	}
	// The completion answers through the installed binary.
	if out := c.ExecOK(t, "adldapctl", "__complete", "self-"); !strings.Contains(out, "self-update") {
		t.Errorf("completion of self-: %q", out)
	}

	c.ExecOK(t, "dpkg", "-i", "/tmp/adldapctl-2.deb")
	if out := c.ExecOK(t, "adldapctl", "version"); !strings.Contains(out, "1.1.0") {
		t.Fatalf("adldapctl version after upgrade: %q", out)
	}
	if out := c.ExecOK(t, "dpkg-query", "-W", "-f", "${Version} ${Status}", "adldapctl"); out != "1.1.0 install ok installed" {
		t.Errorf("dpkg-query after upgrade: %q", out)
	}
	list := c.ExecOK(t, "dpkg", "-L", "adldapctl")
	for _, bad := range []string{"/lib/systemd", "/etc/systemd", "/etc/init.d", "/usr/lib/systemd"} {
		if strings.Contains(list, bad) {
			t.Errorf("the package ships %s:\n%s", bad, list)
		}
	}

	c.ExecOK(t, "dpkg", "--purge", "adldapctl")
	for _, f := range []string{"/usr/bin/adldapctl", "/usr/share/bash-completion/completions/adldapctl",
		"/usr/share/zsh/vendor-completions/_adldapctl", "/usr/share/fish/vendor_completions.d/adldapctl.fish",
		"/usr/share/man/man1/adldapctl.1.gz", "/usr/share/man/man1/adldapctl-self-update.1.gz", "/usr/share/doc/adldapctl/README.md"} {
		if _, err := os.Lstat(c.HostPath(f)); err == nil {
			t.Errorf("%s left after purge", f)
		}
	}
	if _, _, code := c.Exec(t, "dpkg-query", "-W", "adldapctl"); code == 0 {
		t.Error("dpkg still knows adldapctl after purge")
	}
	if after := c.ExecOK(t, "sh", "-c", "systemctl list-unit-files --no-legend | sort"); after != unitsBefore {
		t.Errorf("unit files changed by install/upgrade/purge:\nbefore:\n%s\nafter:\n%s", unitsBefore, after)
	}
}
