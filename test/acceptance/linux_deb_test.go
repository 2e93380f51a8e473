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
	// man adldapctl: the container's man when it has man-db (the cached
	// minbase rootfs has neither man-db nor groff, and the container has
	// no route to a Debian mirror); else the host's man-db looks the page
	// up by name in the container's /usr/share/man only (-M) and renders
	// the installed file.
	manPage := func(name string) string {
		t.Helper()
		if _, _, code := c.Exec(t, "sh", "-c", "command -v man"); code == 0 {
			return c.ExecOK(t, "sh", "-c", "MANPAGER=cat MANWIDTH=1000 man "+name)
		}
		if _, err := exec.LookPath("man"); err != nil {
			testbed.Missing(t, "man (man-db) on the host, to render the installed man page (scripts/deps.sh)")
		}
		manpath := c.HostPath("/usr/share/man")
		where, err := exec.Command("man", "-M", manpath, "-w", name).Output()
		if err != nil || strings.TrimSpace(string(where)) != filepath.Join(manpath, "man1", name+".1.gz") {
			t.Fatalf("man -w %s in the container's man path: %q %v", name, where, err)
		}
		cmd := exec.Command("man", "-M", manpath, "-P", "cat", name)
		// Wide lines: no wrapping or hyphenation inside the names checked.
		cmd.Env = append(os.Environ(), "MANWIDTH=1000", "LC_ALL=C.UTF-8", "MANPAGER=cat")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("man %s: %v\n%s", name, err, out)
		}
		return string(out)
	}
	if _, _, code := c.Exec(t, "sh", "-c", "command -v man"); code != 0 {
		t.Log("no man-db in the container: the host's man renders the installed pages, looked up by name in the container's /usr/share/man")
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
	// finds the installed file by the command's name and the completion
	// function lists subcommands through the installed binary. The
	// minbase rootfs lacks bash-completion, so its one script comes from
	// the host's package (the same Debian release).
	if _, err := os.Stat("/usr/share/bash-completion/bash_completion"); err != nil {
		testbed.Missing(t, "bash-completion on the host (scripts/deps.sh)")
	}
	if _, _, code := c.Exec(t, "test", "-f", "/usr/share/bash-completion/bash_completion"); code == 0 {
		c.ExecOK(t, "cp", "/usr/share/bash-completion/bash_completion", "/tmp/bash_completion")
	} else {
		c.CopyIn(t, "/usr/share/bash-completion/bash_completion", "/tmp/bash_completion", 0o644)
	}
	complete := func(line string) []string {
		t.Helper()
		script := `source /tmp/bash_completion
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
