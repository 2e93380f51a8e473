package testfeed

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adldapctl/adldapctl/internal/testbed"
)

func TestMSIFiles(t *testing.T) {
	files, err := MSIFiles(MSIOptions{Version: "v6.5.0", CrashOnStart: true, AdminPort: 18999})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"server.js", "package.json", "admin/server.js", "lib/profileMapper.js"} {
		if files[name] == nil {
			t.Errorf("no %s in %v", name, keys(files))
		}
	}
	for name := range files {
		if name == "config.json" || strings.HasPrefix(name, "certs/") {
			t.Errorf("the MSI ships the customer's %s", name)
		}
	}
	for name, want := range map[string][]string{
		"server.js":       {"const VERSION = '6.5.0';", "const CRASH_ON_START = true;"},
		"package.json":    {`"version": "6.5.0"`},
		"admin/server.js": {"const VERSION = '6.5.0';", "const ADMIN_PORT = 18999;"},
	} {
		for _, w := range want {
			if !bytes.Contains(files[name], []byte(w)) {
				t.Errorf("%s lacks %q:\n%s", name, w, files[name])
			}
		}
	}
	if _, err := MSIFiles(MSIOptions{Version: "6.5.0", AdminPort: 70000}); err == nil {
		t.Error("admin port 70000 accepted")
	}
	if _, err := MSIFiles(MSIOptions{Version: "not-a-version"}); err == nil {
		t.Error("a bad version accepted")
	}
}

func TestProductCode(t *testing.T) {
	a := ProductCode(MSIOptions{Version: "6.4.1"})
	if a != ProductCode(MSIOptions{Version: "v6.4.1"}) {
		t.Error("ProductCode depends on the v prefix")
	}
	seen := map[string]bool{a: true}
	for _, o := range []MSIOptions{{Version: "6.5.0"}, {Version: "6.4.1", CrashOnStart: true}, {Version: "6.4.1", Direct: true}} {
		c := ProductCode(o)
		if seen[c] {
			t.Errorf("ProductCode(%+v) = %s repeats", o, c)
		}
		seen[c] = true
	}
	if len(a) != 38 || a[0] != '{' || a[37] != '}' || strings.ToUpper(a) != a || a[15] != '5' {
		t.Errorf("ProductCode = %s: not an upper-case {GUID} of version 5", a)
	}
}

// TestBuildMSI builds the two variants with wixl (the Wine test installs
// them) and checks the package carries the UpgradeCode and the files.
func TestBuildMSI(t *testing.T) {
	if _, err := exec.LookPath("wixl"); err != nil {
		testbed.Missing(t, "wixl (scripts/deps.sh installs it)")
	}
	dir := t.TempDir()
	for _, o := range []MSIOptions{{Version: "6.4.1"}, {Version: "6.4.2", Direct: true}} {
		p, err := BuildMSI(dir, o)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(p) != MSIName(o.Version) {
			t.Errorf("BuildMSI wrote %s", p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		// An MSI is an OLE compound file; its string pool holds the codes.
		if !bytes.HasPrefix(b, []byte{0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1}) {
			t.Errorf("%s is not a compound file", p)
		}
		for _, s := range []string{UpgradeCode, ProductCode(o), ServiceName, AdminServiceName} {
			if !bytes.Contains(b, []byte(s)) {
				t.Errorf("%s lacks %q", p, s)
			}
		}
		if hasNSSM := bytes.Contains(b, []byte("nssm.exe")); hasNSSM == o.Direct {
			t.Errorf("%s: nssm.exe shipped = %v with Direct = %v", p, hasNSSM, o.Direct)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("BuildMSI left %d entries in its folder, want the 2 MSIs", len(entries))
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestMSILog(t *testing.T) {
	dir := t.TempDir()
	text := "=== Logging started ===\r\nAction start INSTALL.\r\nMSI (s) Note: 1: 1708 \r\nAction ended INSTALL. Return value 3.\r\n"
	utf16le := []byte{0xff, 0xfe}
	for _, r := range text {
		utf16le = append(utf16le, byte(r), 0)
	}
	for name, b := range map[string][]byte{"utf16.log": utf16le, "ansi.log": []byte(text)} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := MSILog(p, 0)
		if err != nil || got != strings.ReplaceAll(text, "\r\n", "\n") {
			t.Errorf("%s: %q, %v", name, got, err)
		}
		got, err = MSILog(p, 50)
		if err != nil || got != "Action ended INSTALL. Return value 3.\n" {
			t.Errorf("%s tail: %q, %v", name, got, err)
		}
	}
}
