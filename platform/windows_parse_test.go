package platform

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestParseImagePath(t *testing.T) {
	for _, tc := range []struct {
		in, exe, args string
		nssm          bool
	}{
		{`"C:\Program Files (x86)\Auth0\AD LDAP Connector\nssm.exe"`, `C:\Program Files (x86)\Auth0\AD LDAP Connector\nssm.exe`, "", true},
		{`"C:\Program Files (x86)\Auth0\AD LDAP Connector\node.exe" "C:\Program Files (x86)\Auth0\AD LDAP Connector\server.js"`,
			`C:\Program Files (x86)\Auth0\AD LDAP Connector\node.exe`, `"C:\Program Files (x86)\Auth0\AD LDAP Connector\server.js"`, false},
		// unquoted with spaces: Windows' own resolution stops at the .exe
		{`C:\Program Files\Tools\NSSM.EXE -x`, `C:\Program Files\Tools\NSSM.EXE`, "-x", true},
		{`C:\x.exe.d\node.exe server.js`, `C:\x.exe.d\node.exe`, "server.js", false},
		{`C:\bin\svc run --flag`, `C:\bin\svc`, "run --flag", false},
		{`  "C:\a b\nssm.exe"   `, `C:\a b\nssm.exe`, "", true},
	} {
		ip, err := ParseImagePath(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if ip.Exe != tc.exe || ip.Args != tc.args || ip.IsNSSM() != tc.nssm {
			t.Errorf("ParseImagePath(%s) = %+v nssm=%v, want %q %q nssm=%v", tc.in, ip, ip.IsNSSM(), tc.exe, tc.args, tc.nssm)
		}
	}
	for _, bad := range []string{"", "  ", `"C:\no end`} {
		if _, err := ParseImagePath(bad); err == nil {
			t.Errorf("ParseImagePath(%q): no error", bad)
		}
	}
}

func TestPackGUID(t *testing.T) {
	// Office 2003's product code and its packed form as Windows Installer
	// writes it under Installer\Products (a widely documented pair).
	for _, tc := range []struct{ guid, packed string }{
		{"{90110409-6000-11D3-8CFE-0150048383C9}", "9040110900063D11C8EF10054038389C"},
		{ConnectorUpgradeCode, "E9BA27012481AFA4C92F454526DC062E"},
		{"{12345678-ABCD-EF01-2345-6789ABCDEF01}", "87654321DCBA10FE32547698BADCFE10"},
	} {
		p, err := PackGUID(tc.guid)
		if err != nil || p != tc.packed {
			t.Errorf("PackGUID(%s) = %s, %v; want %s", tc.guid, p, err, tc.packed)
		}
		g, err := UnpackGUID(strings.ToLower(p))
		if err != nil || g != tc.guid {
			t.Errorf("UnpackGUID(%s) = %s, %v; want %s", p, g, err, tc.guid)
		}
	}
	for _, bad := range []string{"", "{1072AB9E-1842-4AFA-9CF2}", "{1072AB9E-1842-4AFA-9CF2-545462CD60EZ}"} {
		if _, err := PackGUID(bad); err == nil {
			t.Errorf("PackGUID(%q): no error", bad)
		}
	}
	if _, err := UnpackGUID("E9BA2701248127A4C92F54546ADC062"); err == nil {
		t.Error("UnpackGUID of 31 digits: no error")
	}
}

func TestMatchConnector(t *testing.T) {
	other := UninstallEntry{Key: "{00000000-0000-0000-0000-000000000001}", DisplayName: "Node.js", DisplayVersion: "20.1.0"}
	old := UninstallEntry{Key: "{AAAAAAAA-0000-0000-0000-000000000001}", DisplayName: "Auth0 AD LDAP Connector", DisplayVersion: "6.1.7"}
	newer := UninstallEntry{Key: "{AAAAAAAA-0000-0000-0000-000000000002}", DisplayName: "Auth0  AD LDAP  Connector", DisplayVersion: "6.10.0"}
	renamed := UninstallEntry{Key: "{BBBBBBBB-0000-0000-0000-000000000001}", DisplayName: "Connector (custom build)", DisplayVersion: "6.2.0"}
	byCode := renamed
	byCode.UpgradeCode = strings.ToLower(ConnectorUpgradeCode)

	if e, ok := MatchConnector([]UninstallEntry{other, old, newer}, nil); !ok || e.Key != newer.Key {
		t.Errorf("by name: got %+v %v, want the highest version %s", e, ok, newer.Key)
	}
	// Windows Installer's own UpgradeCode record wins over names.
	if e, ok := MatchConnector([]UninstallEntry{old, renamed}, []string{strings.ToLower(renamed.Key)}); !ok || e.Key != renamed.Key {
		t.Errorf("by Installer\\UpgradeCodes: got %+v %v", e, ok)
	}
	if e, ok := MatchConnector([]UninstallEntry{old, byCode}, nil); !ok || e.Key != byCode.Key {
		t.Errorf("by UpgradeCode value: got %+v %v", e, ok)
	}
	if e, ok := MatchConnector([]UninstallEntry{other, renamed}, nil); ok {
		t.Errorf("no connector: got %+v", e)
	}
}

func TestMergeEnvBlock(t *testing.T) {
	old := []string{"FOO=bar", "http_proxy=http://old:1", "HTTPS_PROXY=http://old:1", "NO_PROXY=.corp", "PATH=C:\\x", ""}
	env := map[string]string{"HTTP_PROXY": "http://u:p@px:3128", "HTTPS_PROXY": "http://u:p@px:3128",
		"http_proxy": "http://u:p@px:3128", "https_proxy": "http://u:p@px:3128"}
	got := MergeEnvBlock(old, env)
	want := []string{"FOO=bar", "PATH=C:\\x", "HTTPS_PROXY=http://u:p@px:3128", "HTTP_PROXY=http://u:p@px:3128"}
	if !slices.Equal(got, want) {
		t.Errorf("set: got %q, want %q", got, want)
	}
	if e := EnvFromBlock(got); e["HTTP_PROXY"] != "http://u:p@px:3128" || len(e) != 2 {
		t.Errorf("EnvFromBlock: %v", e)
	}
	// clear keeps the others; clearing only ours leaves nothing to write
	if got := MergeEnvBlock(want, nil); !slices.Equal(got, []string{"FOO=bar", "PATH=C:\\x"}) {
		t.Errorf("clear: got %q", got)
	}
	if got := MergeEnvBlock([]string{"https_proxy=x", "no_proxy=y"}, nil); len(got) != 0 {
		t.Errorf("clear of ours only: got %q, want empty (the value is deleted)", got)
	}
	if e := EnvFromBlock([]string{"FOO=1"}); e != nil {
		t.Errorf("EnvFromBlock without ours: %v", e)
	}
}

func TestWindowsPathShape(t *testing.T) {
	p, err := DetectWith(DetectOptions{GOOS: "windows"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Paths.InstallDir, `Program Files (x86)`) || !strings.HasSuffix(p.Paths.ConfigFile, "config.json") ||
		!strings.Contains(p.Paths.StateDir, "ProgramData") || p.Service != WindowsServiceName || p.AdminService != WindowsAdminServiceName {
		t.Errorf("windows paths: %+v", p.Paths)
	}
	if winDir(`C:\a b\node.exe`) != `C:\a b` || winDir(`C:\node.exe`) != `C:\` || winDir("node.exe") != "" {
		t.Error("winDir")
	}
}

func TestImportRecord(t *testing.T) {
	r := importRecord{path: t.TempDir() + "/state/trusted-cas.txt"}
	if set, err := r.read(); err != nil || len(set) != 0 {
		t.Fatalf("missing record: %v %v", set, err)
	}
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	if err := r.update(func(m map[string]bool) { m[b], m[a] = true, true }); err != nil {
		t.Fatal(err)
	}
	if err := r.update(func(m map[string]bool) { delete(m, b) }); err != nil {
		t.Fatal(err)
	}
	set, err := r.read()
	if err != nil || len(set) != 1 || !set[a] {
		t.Errorf("after add and remove: %v %v", set, err)
	}
	// Lines that are not SHA-256 fingerprints are ignored.
	if err := os.WriteFile(r.path, []byte("junk\n"+strings.ToUpper(b)+"\n"+strings.Repeat("z", 64)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if set, _ := r.read(); len(set) != 1 || !set[b] {
		t.Errorf("hand-edited record: %v", set)
	}
}
