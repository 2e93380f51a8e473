package packaging

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func loadProduct(t *testing.T) Product {
	t.Helper()
	b, err := os.ReadFile("product.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseProduct(b)
	if err != nil {
		t.Fatalf("product.json: %v", err)
	}
	return p
}

func toolMSI(p Product, version, arch string) ToolMSI {
	return ToolMSI{Name: p.Name, Vendor: p.Vendor, Summary: p.Summary, Homepage: p.Homepage, License: p.License,
		UpgradeCode: p.UpgradeCode, Version: version, Arch: arch, Exe: "adldapctl.exe", LicenseFile: "LICENSE"}
}

// wxs is the part of the WiX schema the checks below read.
type wxs struct {
	Product struct {
		ID          string `xml:"Id,attr"`
		Name        string `xml:"Name,attr"`
		Version     string `xml:"Version,attr"`
		UpgradeCode string `xml:"UpgradeCode,attr"`
		Package     struct {
			InstallScope string `xml:"InstallScope,attr"`
		} `xml:"Package"`
		MajorUpgrade *struct{} `xml:"MajorUpgrade"`
		Directory    struct {
			ID string `xml:"Id,attr"`
			PF struct {
				ID      string `xml:"Id,attr"`
				Install struct {
					ID         string `xml:"Id,attr"`
					Name       string `xml:"Name,attr"`
					Components []struct {
						ID    string `xml:"Id,attr"`
						GUID  string `xml:"Guid,attr"`
						Win64 string `xml:"Win64,attr"`
						File  struct {
							Name   string `xml:"Name,attr"`
							Source string `xml:"Source,attr"`
						} `xml:"File"`
						Env []struct {
							Name, Value, Part, Action, System, Permanent string `xml:",attr"`
						} `xml:"Environment"`
					} `xml:"Component"`
				} `xml:"Directory"`
			} `xml:"Directory"`
		} `xml:"Directory"`
	} `xml:"Product"`
}

// Acceptance 6 of issue 11: adldapctl's WiX source, rendered from
// packaging/product.json and the template, golden-tested per
// architecture; and what it says checked one by one: per-machine, major
// upgrades under our own fixed UpgradeCode, adldapctl.exe in
// [ProgramFiles64Folder]adldapctl (platform.Paths.ToolBinary), the folder
// added to the machine PATH and removed on uninstall.
func TestToolWiXGolden(t *testing.T) {
	p := loadProduct(t)
	for _, tc := range []struct{ arch, pf, win64 string }{{"amd64", "ProgramFiles64Folder", "yes"}, {"386", "ProgramFilesFolder", "no"}} {
		t.Run(tc.arch, func(t *testing.T) {
			got, err := RenderToolWiX(toolMSI(p, "1.2.3", tc.arch))
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "adldapctl-"+tc.arch+".wxs")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("WiX source differs from %s (go test -update if intended):\n%s", golden, got)
			}
			var w wxs
			if err := xml.Unmarshal(got, &w); err != nil {
				t.Fatalf("the WiX source is not XML: %v", err)
			}
			pr := w.Product
			if pr.UpgradeCode != p.UpgradeCode || pr.UpgradeCode == "{1072AB9E-1842-4AFA-9CF2-545462CD60E2}" {
				t.Errorf("UpgradeCode %s, want adldapctl's own %s (not the connector's)", pr.UpgradeCode, p.UpgradeCode)
			}
			if pr.Name != "adldapctl" || pr.Version != "1.2.3" || pr.Package.InstallScope != "perMachine" || pr.MajorUpgrade == nil {
				t.Errorf("product %+v: want adldapctl 1.2.3, perMachine, MajorUpgrade", pr)
			}
			inst := pr.Directory.PF.Install
			if pr.Directory.ID != "TARGETDIR" || pr.Directory.PF.ID != tc.pf || inst.ID != "INSTALLDIR" || inst.Name != ToolInstallFolder {
				t.Errorf("install folder %s/%s/%s %q, want TARGETDIR/%s/INSTALLDIR adldapctl", pr.Directory.ID, pr.Directory.PF.ID, inst.ID, inst.Name, tc.pf)
			}
			if len(inst.Components) != 2 {
				t.Fatalf("components %+v", inst.Components)
			}
			bin := inst.Components[0]
			if bin.File.Name != "adldapctl.exe" || bin.File.Source != "adldapctl.exe" || bin.Win64 != tc.win64 {
				t.Errorf("binary component %+v", bin)
			}
			if len(bin.Env) != 1 {
				t.Fatalf("PATH entries %+v", bin.Env)
			}
			if e := bin.Env[0]; e.Name != "PATH" || e.Value != "[INSTALLDIR]" || e.Part != "first" || e.Action != "set" || e.System != "yes" || e.Permanent != "no" {
				t.Errorf("PATH entry %+v: want [INSTALLDIR] added first to the machine PATH, removed on uninstall", e)
			}
			for _, c := range inst.Components {
				if !guidRE.MatchString(c.GUID) {
					t.Errorf("component %s GUID %q", c.ID, c.GUID)
				}
			}
			if !guidRE.MatchString(pr.ID) || pr.ID == pr.UpgradeCode {
				t.Errorf("ProductCode %q", pr.ID)
			}
		})
	}
}

// A new version is a new product (major upgrade); a component keeps its
// GUID across versions; x86 and x64 components differ.
func TestToolWiXCodes(t *testing.T) {
	p := loadProduct(t)
	codes := func(version, arch string) wxs {
		b, err := RenderToolWiX(toolMSI(p, version, arch))
		if err != nil {
			t.Fatal(err)
		}
		var w wxs
		if err := xml.Unmarshal(b, &w); err != nil {
			t.Fatal(err)
		}
		return w
	}
	a, b, x86 := codes("1.2.3", "amd64"), codes("1.3.0", "amd64"), codes("1.2.3", "386")
	if a.Product.ID == b.Product.ID || a.Product.ID == x86.Product.ID {
		t.Errorf("ProductCode not new per version and arch: %s %s %s", a.Product.ID, b.Product.ID, x86.Product.ID)
	}
	ca, cb, cx := a.Product.Directory.PF.Install.Components, b.Product.Directory.PF.Install.Components, x86.Product.Directory.PF.Install.Components
	if ca[0].GUID != cb[0].GUID || ca[1].GUID != cb[1].GUID {
		t.Errorf("component GUIDs changed with the version: %s %s", ca[0].GUID, cb[0].GUID)
	}
	if ca[0].GUID == cx[0].GUID || ca[0].GUID == ca[1].GUID {
		t.Errorf("component GUIDs shared: %s %s %s", ca[0].GUID, cx[0].GUID, ca[1].GUID)
	}
}

func TestNameGUIDIsRFC4122Version5(t *testing.T) {
	// RFC 4122's DNS namespace and a well-known version 5 result.
	if got := nameGUID("{6BA7B810-9DAD-11D1-80B4-00C04FD430C8}", "python.org"); got != "{886313E1-3B8A-5372-9B90-0C9AEE199E5D}" {
		t.Fatalf("nameGUID = %s", got)
	}
}

func TestToolWiXEscapesAndRefuses(t *testing.T) {
	p := loadProduct(t)
	m := toolMSI(p, "1.2.3", "amd64")
	m.Vendor = `A & B "<x>"`
	m.Exe = `/st'age/"a".exe`
	b, err := RenderToolWiX(m)
	if err != nil {
		t.Fatal(err)
	}
	var w struct {
		Product struct {
			Manufacturer string `xml:"Manufacturer,attr"`
		} `xml:"Product"`
	}
	if err := xml.Unmarshal(b, &w); err != nil || w.Product.Manufacturer != m.Vendor {
		t.Fatalf("vendor %q did not round-trip: %v %q", m.Vendor, err, w.Product.Manufacturer)
	}
	if !strings.Contains(string(b), `Source="/st&#39;age/&#34;a&#34;.exe"`) {
		t.Errorf("source path not escaped:\n%s", b)
	}
	for _, bad := range []struct {
		name string
		edit func(*ToolMSI)
	}{
		{"pre-release version", func(m *ToolMSI) { m.Version = "1.2.3-rc.1" }},
		{"v prefix", func(m *ToolMSI) { m.Version = "v1.2.3" }},
		{"major over 255", func(m *ToolMSI) { m.Version = "256.0.0" }},
		{"patch over 65535", func(m *ToolMSI) { m.Version = "1.0.65536" }},
		{"arm64", func(m *ToolMSI) { m.Arch = "arm64" }},
		{"lower-case GUID", func(m *ToolMSI) { m.UpgradeCode = strings.ToLower(m.UpgradeCode) }},
		{"no license", func(m *ToolMSI) { m.License = "" }},
	} {
		m := toolMSI(p, "1.2.3", "amd64")
		bad.edit(&m)
		if _, err := RenderToolWiX(m); err == nil {
			t.Errorf("%s: rendered", bad.name)
		}
	}
	if _, err := RenderToolWiX(toolMSI(p, "255.255.65535", "386")); err != nil {
		t.Errorf("largest MSI version refused: %v", err)
	}
}

func TestParseProduct(t *testing.T) {
	p := loadProduct(t)
	if p.License != "Apache-2.0" {
		t.Errorf("license %q, want Apache-2.0 (the LICENSE file's)", p.License)
	}
	if lic, err := os.ReadFile(filepath.Join("..", "LICENSE")); err != nil || !strings.Contains(string(lic), "Apache License\n                           Version 2.0") {
		t.Errorf("LICENSE is not the Apache License 2.0: %v", err)
	}
	for _, bad := range []string{`{"name":"adldapctl"}`, `{"name":"a","surprise":1}`, `not json`} {
		if _, err := ParseProduct([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestDebianCopyright(t *testing.T) {
	p := loadProduct(t)
	got := string(DebianCopyright(p, []byte("\nLine one\n\n  indented\r\nlast\n")))
	want := "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n" +
		"Upstream-Name: adldapctl\n" +
		"Upstream-Contact: adldapctl maintainers <adldapctl@users.noreply.github.com>\n" +
		"Source: https://github.com/adldapctl/adldapctl\n\n" +
		"Files: *\nCopyright: adldapctl maintainers\nLicense: Apache-2.0\n\n" +
		"License: Apache-2.0\n Line one\n .\n   indented\n last\n"
	if got != want {
		t.Errorf("copyright:\n%s\nwant:\n%s", got, want)
	}
}
