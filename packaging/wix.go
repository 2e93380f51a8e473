package packaging

import (
	"bytes"
	"crypto/sha1"
	_ "embed"
	"encoding/xml"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"
)

//go:embed adldapctl.wxs.tmpl
var toolWiXTemplate string

// ToolMSI is what adldapctl's own MSI is rendered from: the product
// description (packaging/product.json), the version and the files.
type ToolMSI struct {
	Name, Vendor, Summary, Homepage, License string
	// UpgradeCode is adldapctl's fixed UpgradeCode ({GUID}); every
	// version shares it, so a newer MSI major-upgrades an older one.
	UpgradeCode string
	Version     string // x.y.z, numeric (MSI ProductVersion)
	Arch        string // "amd64" or "386"
	// Exe and LicenseFile are the source paths of adldapctl.exe and the
	// license text (installed as LICENSE.txt); wixl wants them relative.
	Exe, LicenseFile string
}

// ToolInstallFolder is where the MSI installs adldapctl.exe, below
// Program Files (ProgramFiles64Folder for amd64, ProgramFilesFolder for
// 386, which a 32-bit process sees as its ProgramFiles): the folder
// platform.Paths.ToolBinary (self-update's target) names.
const ToolInstallFolder = "adldapctl"

var (
	guidRE    = regexp.MustCompile(`^\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}$`)
	versionRE = regexp.MustCompile(`^(0|[1-9][0-9]{0,4})\.(0|[1-9][0-9]{0,4})\.(0|[1-9][0-9]{0,4})$`)
)

// RenderToolWiX renders adldapctl's WiX 3 source: adldapctl.exe in
// [ProgramFiles(64)Folder]adldapctl, the folder added first to the
// machine PATH (removed on uninstall), per-machine, fixed UpgradeCode with major
// upgrades. The ProductCode and component GUIDs are derived from the
// UpgradeCode (a name-based UUID), so the same input renders the same
// bytes: a new version is a new product, a component keeps its GUID.
func RenderToolWiX(m ToolMSI) ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	data := struct {
		ToolMSI
		ProductCode, BinaryGuid, LicenseGuid string
		ProgramFiles, Win64, WiXArch         string
	}{ToolMSI: m}
	switch m.Arch {
	case "amd64":
		data.ProgramFiles, data.Win64, data.WiXArch = "ProgramFiles64Folder", "yes", "x64"
	case "386":
		data.ProgramFiles, data.Win64, data.WiXArch = "ProgramFilesFolder", "no", "x86"
	}
	data.ProductCode = nameGUID(m.UpgradeCode, "product "+m.Version+" "+m.Arch)
	data.BinaryGuid = nameGUID(m.UpgradeCode, "component Binary "+m.Arch)
	data.LicenseGuid = nameGUID(m.UpgradeCode, "component License "+m.Arch)
	tmpl, err := template.New("wxs").Option("missingkey=error").Funcs(template.FuncMap{"x": xmlText}).Parse(toolWiXTemplate)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("WiX source: %w", err)
	}
	return b.Bytes(), nil
}

// WiXArch is wixl's -a (candle's -arch) for a Go architecture.
func WiXArch(goarch string) (string, error) {
	switch goarch {
	case "amd64":
		return "x64", nil
	case "386":
		return "x86", nil
	}
	return "", fmt.Errorf("no MSI for windows/%s: only amd64 and 386", goarch)
}

func (m ToolMSI) check() error {
	for name, v := range map[string]string{"name": m.Name, "vendor": m.Vendor, "summary": m.Summary,
		"homepage": m.Homepage, "license": m.License, "exe": m.Exe, "license file": m.LicenseFile} {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("WiX source: %s is empty", name)
		}
	}
	if !guidRE.MatchString(m.UpgradeCode) {
		return fmt.Errorf("WiX source: upgrade code %q is not an upper-case {GUID}: set upgrade_code in packaging/product.json", m.UpgradeCode)
	}
	if _, err := WiXArch(m.Arch); err != nil {
		return err
	}
	v := versionRE.FindStringSubmatch(m.Version)
	if v == nil {
		return fmt.Errorf("the MSI needs a numeric x.y.z version (got %q): MSI versions have no pre-release part", m.Version)
	}
	for i, limit := range []int{255, 255, 65535} {
		if n, _ := strconv.Atoi(v[i+1]); n > limit {
			return fmt.Errorf("the MSI needs version %s's part %d to be at most %d (MSI ProductVersion)", m.Version, i+1, limit)
		}
	}
	return nil
}

// nameGUID is a name-based (version 5, SHA-1) UUID in the namespace of
// the GUID ns, upper case in braces as WiX writes them.
func nameGUID(ns, name string) string {
	hexNS := strings.ReplaceAll(strings.Trim(ns, "{}"), "-", "")
	var nsb [16]byte
	for i := range nsb {
		n, _ := strconv.ParseUint(hexNS[2*i:2*i+2], 16, 8)
		nsb[i] = byte(n)
	}
	h := sha1.New()
	h.Write(nsb[:])
	h.Write([]byte(name))
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return strings.ToUpper(fmt.Sprintf("{%x-%x-%x-%x-%x}", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]))
}

func xmlText(s string) (string, error) {
	var b strings.Builder
	if err := xml.EscapeText(&b, []byte(s)); err != nil {
		return "", err
	}
	return b.String(), nil
}
