//go:build acceptance && linux

package acceptance

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
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
	// man adldapctl, as the admin types it in the container (the rootfs
	// has man-db and groff-base, scripts/testbed-rootfs.sh).
	manPage := func(name string) string {
		t.Helper()
		where := strings.TrimSpace(c.ExecOK(t, "man", "-w", name))
		if where != "/usr/share/man/man1/"+name+".1.gz" {
			t.Fatalf("man -w %s: %q", name, where)
		}
		return c.ExecOK(t, "sh", "-c", "MANPAGER=cat MANWIDTH=1000 LC_ALL=C.UTF-8 man "+name)
	}
	page := manPage("adldapctl")
	for _, w := range []string{"NAME", "adldapctl - ", "SYNOPSIS", "SEE ALSO", "adldapctl-install(1)", "adldapctl-self-update(1)"} {
		if !strings.Contains(page, w) {
			t.Errorf("man adldapctl lacks %q:\n%s", w, page)
		}
	}
	if page := manPage("adldapctl-self-update"); !strings.Contains(page, "adldapctl self-update") {
		t.Errorf("man adldapctl-self-update:\n%s", page)
	}

	if cp := c.ExecOK(t, "cat", "/usr/share/doc/adldapctl/copyright"); !strings.Contains(cp, "\nLicense: Apache-2.0\n") {
		t.Errorf("/usr/share/doc/adldapctl/copyright:\n%.400s", cp)
	}

	// Bash completion as a shell user gets it: bash-completion's loader
	// (installed in the rootfs) finds the installed file by the command's
	// name and the completion function lists subcommands through the
	// installed binary.
	complete := func(line string) []string {
		t.Helper()
		script := `source /usr/share/bash-completion/bash_completion
_completion_loader adldapctl
complete -p adldapctl | grep -q -- '-F __start_adldapctl adldapctl$' || { echo "no completion for adldapctl"; exit 3; }
read -ra COMP_WORDS <<<"$1"; [ "${1: -1}" = " " ] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}
__start_adldapctl adldapctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}" 2>/dev/null
printf '%s\n' "${COMPREPLY[@]}"`
		out := c.ExecOK(t, "bash", "--norc", "--noprofile", "-c", script, "complete", line)
		return strings.Fields(out)
	}
	if got := complete("adldapctl "); !slices.Contains(got, "install") || !slices.Contains(got, "self-update") || !slices.Contains(got, "mirror") {
		t.Errorf("completion of %q: %v", "adldapctl ", got)
	}
	if got := complete("adldapctl self-"); !slices.Equal(got, []string{"self-update"}) {
		t.Errorf("completion of %q: %v", "adldapctl self-", got)
	}
	if got := complete("adldapctl mirror "); !slices.Contains(got, "build") {
		t.Errorf("completion of %q: %v", "adldapctl mirror ", got)
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
		"/usr/share/man/man1/adldapctl.1.gz", "/usr/share/man/man1/adldapctl-self-update.1.gz", "/usr/share/doc/adldapctl/README.md",
		"/usr/share/doc/adldapctl/copyright", "/usr/share/doc/adldapctl/LICENSE"} {
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
