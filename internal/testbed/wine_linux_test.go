package testbed

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWineBed runs a Windows Go program (it needs the ProcessPrng shim)
// and checks that two beds do not share a registry.
func TestWineBed(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "adldapctl.exe")
	BuildTool(t, exe, BuildOptions{GOOS: "windows", GOARCH: "amd64", Version: "9.9.9"})
	a := StartWine(t)
	out, stderr, code := a.Run(t, exe, "version")
	if code != 0 || !strings.Contains(out, "9.9.9") {
		t.Fatalf("adldapctl.exe version under wine: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if _, e, code := a.Run(t, "reg", "add", `HKLM\Software\adldapctl-bed`, "/v", "mark", "/d", "a", "/f"); code != 0 {
		t.Fatalf("reg add: exit %d: %s", code, e)
	}
	out, _, code = a.Run(t, "reg", "query", `HKLM\Software\adldapctl-bed`, "/v", "mark")
	if code != 0 || !strings.Contains(out, "mark") {
		t.Fatalf("reg query in the same bed: exit %d, %q", code, out)
	}
	b := StartWine(t)
	if out, _, code := b.Run(t, "reg", "query", `HKLM\Software\adldapctl-bed`, "/v", "mark"); code == 0 {
		t.Fatalf("a second bed sees the first bed's registry: %q", out)
	}
	if err := os.WriteFile(a.HostPath(`C:\marker.txt`), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code = a.Run(t, "cmd", "/c", "type", `C:\marker.txt`)
	if code != 0 || strings.TrimSpace(out) != "x" {
		t.Fatalf("HostPath does not map C:\\: exit %d, %q", code, out)
	}
}
