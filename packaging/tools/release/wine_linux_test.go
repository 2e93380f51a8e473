package release

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/internal/testbed"
	"github.com/adldapctl/adldapctl/platform"
)

const (
	envKey = `HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\Environment`
	arpKey = `HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall`
)

// Acceptance 3 of issue 11, under Wine (real msiexec, registry and
// process creation): the released, signed .msi installs silently and
// per-machine; adldapctl.exe lands where self-update expects it
// (platform.Paths.ToolBinary); the machine PATH in the registry gains the
// folder, and a new process finds adldapctl by name and prints the
// stamped version; a newer MSI major-upgrades it (one Add/Remove Programs
// entry, the new version); an older one is refused; msiexec /x removes the
// files, the PATH entry and the entry.
func TestMSIUnderWine(t *testing.T) {
	r := buildTestRelease(t)
	start := time.Now()
	w := testbed.StartWine(t)

	// A newer release's MSI (a 9.9.0 build, signed like the release),
	// built while the older one is tried.
	const newer = "9.9.0"
	work := t.TempDir()
	prod, err := LoadProduct(filepath.Join("..", "..", "product.json"))
	if err != nil {
		t.Fatal(err)
	}
	msi2 := filepath.Join(work, MSIName(newer, "amd64"))
	var newerErr error
	newerDone := make(chan struct{})
	go func() { defer close(newerDone); newerErr = buildSignedMSI(prod, newer, r.cert, work, msi2) }()
	defer func() { <-newerDone }() // the build ends before the temp dir goes
	msi1 := filepath.Join(r.dir, MSIName(testVersion, "amd64"))

	// Where self-update writes on Windows, from the platform contract.
	p, err := platform.DetectWith(platform.DetectOptions{GOOS: "windows"})
	if err != nil {
		t.Fatal(err)
	}
	toolBinary := strings.ReplaceAll(p.Paths.ToolBinary, "/", `\`)
	if toolBinary != `C:\Program Files\adldapctl\adldapctl.exe` {
		t.Fatalf("platform.Paths.ToolBinary %s: the MSI installs C:\\Program Files\\adldapctl\\adldapctl.exe", toolBinary)
	}
	folder := `C:\Program Files\adldapctl`

	machinePath := func() string {
		t.Helper()
		out, stderr, code := w.Run(t, "reg", "query", envKey, "/v", "Path")
		if code != 0 {
			t.Fatalf("reg query Path: %d %s", code, stderr)
		}
		m := regexp.MustCompile(`(?m)^\s*Path\s+REG_(?:EXPAND_)?SZ\s+(.*?)\r?$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no machine Path in:\n%s", out)
		}
		return m[1]
	}
	entries := func(path string) int {
		n := 0
		for _, e := range strings.Split(path, ";") {
			if strings.EqualFold(strings.TrimRight(e, `\`), folder) {
				n++
			}
		}
		return n
	}
	// arp returns the DisplayVersion of every uninstall entry named
	// adldapctl.
	arp := func() []string {
		t.Helper()
		out, stderr, code := w.Run(t, "reg", "query", arpKey, "/s")
		if code != 0 {
			t.Fatalf("reg query %s /s: %d %s", arpKey, code, stderr)
		}
		var versions []string
		for _, key := range strings.Split(strings.ReplaceAll(out, "\r\n", "\n"), "\n\n") {
			if !regexp.MustCompile(`(?m)^\s*DisplayName\s+REG_SZ\s+adldapctl\s*$`).MatchString(key) {
				continue
			}
			m := regexp.MustCompile(`(?m)^\s*DisplayVersion\s+REG_SZ\s+(\S+)\s*$`).FindStringSubmatch(key)
			if m == nil {
				t.Fatalf("uninstall entry without DisplayVersion:\n%s", key)
			}
			versions = append(versions, m[1])
		}
		return versions
	}
	// version runs adldapctl by name in a new process (cmd.exe searches
	// the PATH it got from the registry), from a folder without it.
	version := func() (string, int) {
		t.Helper()
		out, stderr, code := w.Run(t, "cmd", "/c", "cd /d C:\\ && adldapctl version")
		return out + stderr, code
	}
	msiexec := func(args ...string) int {
		t.Helper()
		_, stderr, code := w.Run(t, "msiexec", args...)
		if code != 0 {
			t.Logf("msiexec %v: exit %d %s", args, code, stderr)
		}
		return code
	}

	before := machinePath()
	if entries(before) != 0 {
		t.Fatalf("fresh prefix already has %s on PATH: %s", folder, before)
	}
	if out, code := version(); code == 0 {
		t.Fatalf("adldapctl found before install: %s", out)
	}

	if code := msiexec("/i", w.WinPath(msi1), "/qn"); code != 0 {
		t.Fatalf("msiexec /i %s /qn: exit %d", filepath.Base(msi1), code)
	}
	if _, err := os.Stat(w.HostPath(toolBinary)); err != nil {
		t.Fatalf("adldapctl.exe not at %s: %v", toolBinary, err)
	}
	if _, err := os.Stat(w.HostPath(folder + `\LICENSE.txt`)); err != nil {
		t.Errorf("LICENSE.txt: %v", err)
	}
	// The folder first, the rest of PATH as it was.
	want := folder + `\;` + before
	if path := machinePath(); path != want {
		t.Fatalf("machine Path after install:\n%s\nwant\n%s", path, want)
	}
	if out, code := version(); code != 0 || !strings.Contains(out, "adldapctl "+testVersion+" (commit relcommit") {
		t.Fatalf("adldapctl version by name after install: exit %d %q", code, out)
	}
	if v := arp(); len(v) != 1 || v[0] != testVersion {
		t.Fatalf("uninstall entries after install: %v, want [%s]", v, testVersion)
	}

	// The newer MSI replaces it: one entry, the new version, PATH once.
	<-newerDone
	if newerErr != nil {
		t.Fatalf("the newer MSI: %v", newerErr)
	}
	t.Logf("the newer MSI was ready %v after the start", time.Since(start).Round(time.Millisecond))
	if code := msiexec("/i", w.WinPath(msi2), "/qn"); code != 0 {
		t.Fatalf("msiexec /i %s /qn (upgrade): exit %d", filepath.Base(msi2), code)
	}
	if v := arp(); len(v) != 1 || v[0] != newer {
		t.Fatalf("uninstall entries after the upgrade: %v, want [%s]", v, newer)
	}
	if out, code := version(); code != 0 || !strings.Contains(out, "adldapctl "+newer) {
		t.Fatalf("adldapctl version after the upgrade: exit %d %q", code, out)
	}
	if path := machinePath(); path != want {
		t.Fatalf("machine Path after the upgrade:\n%s\nwant\n%s", path, want)
	}

	// The older MSI is refused now (MajorUpgrade's downgrade guard).
	if code := msiexec("/i", w.WinPath(msi1), "/qn"); code == 0 {
		t.Errorf("the older MSI installed over the newer one")
	}
	if v := arp(); len(v) != 1 || v[0] != newer {
		t.Fatalf("uninstall entries after the refused downgrade: %v, want [%s]", v, newer)
	}

	if code := msiexec("/x", w.WinPath(msi2), "/qn"); code != 0 {
		t.Fatalf("msiexec /x: exit %d", code)
	}
	if _, err := os.Stat(w.HostPath(toolBinary)); !os.IsNotExist(err) {
		t.Errorf("adldapctl.exe left after uninstall: %v", err)
	}
	if after := machinePath(); after != before {
		t.Errorf("machine Path after uninstall:\n%s\nwant it as before install:\n%s", after, before)
	}
	if v := arp(); len(v) != 0 {
		t.Errorf("uninstall entries after uninstall: %v", v)
	}
	if out, code := version(); code == 0 {
		t.Errorf("adldapctl still found after uninstall: %s", out)
	}
	t.Logf("install, upgrade, refused downgrade, uninstall under Wine in %v", time.Since(start).Round(time.Millisecond))
}

// buildSignedMSI builds adldapctl.exe stamped with version for
// windows/amd64, signs it, wraps it in the MSI at out and signs that.
func buildSignedMSI(prod Product, version string, cert testCert, work, out string) error {
	ctx := context.Background()
	exe := filepath.Join(work, "adldapctl-windows-amd64.exe")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags",
		"-X github.com/adldapctl/adldapctl/cmd/adldapctl/cli.Version="+version, "-o", exe, "github.com/adldapctl/adldapctl/cmd/adldapctl")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=windows", "GOARCH=amd64")
	if b, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, b)
	}
	sign := &Authenticode{CertFile: cert.Cert, KeyFile: cert.Key, Description: prod.Name}
	if err := sign.Sign(ctx, exe); err != nil {
		return err
	}
	if err := BuildMSI(ctx, prod, version, "amd64", exe, filepath.Join("..", "..", "..", "LICENSE"), work, out); err != nil {
		return err
	}
	return sign.Sign(ctx, out)
}
