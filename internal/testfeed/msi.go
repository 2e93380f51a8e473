package testfeed

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode/utf16"

	version "github.com/hashicorp/go-version"
)

// The sample MSIs reproduce the official connector MSI (installer/*.wxs of
// auth0/ad-ldap-connector) where adldapctl meets it.
const (
	// UpgradeCode is the official MSI's UpgradeCode.
	UpgradeCode = "{1072AB9E-1842-4AFA-9CF2-545462CD60E2}"
	// ProductName is the product's (and the uninstall entry's DisplayName).
	ProductName  = "Auth0 AD LDAP Connector"
	Manufacturer = "Auth0 INC"
	// InstallDir is where the MSI installs (ProgramFilesFolder of an x86
	// package on 64-bit Windows).
	InstallDir = `C:\Program Files (x86)\Auth0\AD LDAP Connector`
	// ServiceName and AdminServiceName are the two services.
	ServiceName      = "Auth0 ADLDAP"
	AdminServiceName = "Auth0 ADLDAP Admin"
	// DefaultAdminPort is the admin UI's port when MSIOptions.AdminPort
	// is zero.
	DefaultAdminPort = 8357
	// DowngradeError is the MSI's message when a newer version is
	// installed (the official one's PreventDowngrading).
	DowngradeError = "Newer version already installed."
)

// MSIOptions select a sample MSI.
type MSIOptions struct {
	// Version is the product version ("6.4.1" or "v6.4.1"). MSI versions
	// are numeric: a prerelease suffix is dropped from ProductVersion
	// (server.js and package.json keep the full version).
	Version string
	// CrashOnStart makes the connector (server.js) exit 1 at once; the
	// admin UI still starts.
	CrashOnStart bool
	// Direct registers node.exe itself as both services'
	// image (`node.exe --service NAME "<dir>\server.js"`) and ships no
	// nssm.exe, instead of nssm.exe with the nssm Parameters keys.
	Direct bool
	// AdminPort is stamped into admin\server.js (0: DefaultAdminPort).
	// Tests running in parallel need their own: the MSI starts the admin
	// service on install, as the official one does.
	AdminPort int
	// NoStartAdmin leaves the admin service stopped after install (the
	// official MSI starts it).
	NoStartAdmin bool
	// NoInstallLocation leaves ARPINSTALLLOCATION unset, as the official
	// MSI does: the uninstall entry then has no InstallLocation.
	NoInstallLocation bool
}

// MSIName is the release asset name of version v: "adldap-vX.Y.Z.msi".
func MSIName(v string) string { return "adldap-v" + normalize(v) + ".msi" }

// ProductCode is the sample MSI's ProductCode for o: a GUID derived from
// the version and the variant, so it is stable across runs and distinct
// between versions (each version is its own product, as with the official
// MSI's Product Id="*").
func ProductCode(o MSIOptions) string {
	return guid(fmt.Sprintf("product:%s:crash=%t:direct=%t", normalize(o.Version), o.CrashOnStart, o.Direct))
}

// MSIFiles returns the files the sample MSI of o installs under
// InstallDir, by slash path: the sample connector of SampleFiles (server.js
// stamped), package.json with "version" set, and admin/server.js. node.exe
// and nssm.exe (the Windows programs) come on top. config.json and certs/
// are not shipped: they are the customer's.
func MSIFiles(o MSIOptions) (map[string][]byte, error) {
	files, err := SampleFiles(o.Version, SampleOptions{CrashOnStart: o.CrashOnStart})
	if err != nil {
		return nil, err
	}
	v := normalize(o.Version)
	pkg := string(files["package.json"])
	re := regexp.MustCompile(`"version":\s*"[^"]*"`)
	if !re.MatchString(pkg) {
		return nil, fmt.Errorf("testfeed: sample/package.json has no version")
	}
	files["package.json"] = []byte(re.ReplaceAllLiteralString(pkg, `"version": "`+v+`"`))
	port := o.AdminPort
	if port == 0 {
		port = DefaultAdminPort
	}
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("testfeed: admin port %d out of range", port)
	}
	files["admin/server.js"] = []byte(strings.NewReplacer("{{VERSION}}", v, "{{PORT}}", strconv.Itoa(port)).Replace(adminJS))
	for name := range files {
		if strings.HasPrefix(name, "certs/") || name == "config.json" {
			delete(files, name)
		}
	}
	return files, nil
}

// adminJS is admin/server.js: the stamp lines winnode reads, and a server
// that real node would run too.
const adminJS = `'use strict';
// Stand-in for the Auth0 AD/LDAP Connector's admin UI (admin/server.js),
// used by adldapctl's tests. The two lines below are stamped by testfeed.
const VERSION = '{{VERSION}}';
const ADMIN_PORT = {{PORT}};

const http = require('http');
http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ admin: true, version: VERSION }) + '\n');
}).listen(ADMIN_PORT, '127.0.0.1');
`

// BuildMSI builds the sample MSI of o with wixl into dir/MSIName(version)
// and returns its path. The Windows programs are built once per process
// (BuildWindowsPrograms); each call runs wixl once (about a second).
//
// The MSI (per-machine, x86 package, UpgradeCode UpgradeCode, ProductCode
// ProductCode(o), Product Name ProductName, Manufacturer Manufacturer) installs
// to ProgramFilesFolder\Auth0\AD LDAP Connector (InstallDir on 64-bit
// Windows): node.exe, nssm.exe (not with Direct), server.js, package.json,
// package-lock.json, admin\server.js, lib\*.js. MajorUpgrade removes an
// older product of the UpgradeCode before installing (so the files it
// installed go, customised or not) and refuses a newer one with
// DowngradeError (msiexec exit 1603).
//
// Services (ServiceInstall, own process, automatic start):
//
//	Auth0 ADLDAP        nssm.exe  (Direct: node.exe --service "Auth0 ADLDAP" "<dir>\server.js")
//	Auth0 ADLDAP Admin  nssm.exe  (Direct: node.exe --service "Auth0 ADLDAP Admin" "<dir>\admin\server.js")
//
// stopped on install and uninstall, removed on uninstall; the admin
// service is started on install (unless NoStartAdmin), the connector is
// not. Without Direct, each service's
// HKLM\SYSTEM\CurrentControlSet\Services\<name>\Parameters key gets nssm's
// values (REG_SZ; real nssm writes REG_EXPAND_SZ, so readers must take
// both; <dir> ends with a backslash):
//
//	Application    <dir>node.exe
//	AppDirectory   <dir>
//	AppParameters  "<dir>server.js"   (admin: "<dir>admin\server.js")
//
// The uninstall entry (an x86 package: under Wine it is in the 32-bit
// view, HKLM\SOFTWARE\WOW6432Node\...\Uninstall\<ProductCode>) has
// DisplayName ProductName, DisplayVersion the version, Publisher
// Manufacturer and, unless NoInstallLocation, InstallLocation
// InstallDir+`\` (a fixed property: wixl does not sequence the custom
// action that would copy INSTALLDIR). The UpgradeCode is registered under
// HKLM\SOFTWARE\Classes\Installer\UpgradeCodes (packed GUIDs).
//
// Seen under Wine: the service ImagePath is unquoted; msiexec's exit code
// reaches the host cut to 8 bits (1603 as 67); a downgrade fails 1603.
func BuildMSI(dir string, o MSIOptions) (string, error) {
	v := normalize(o.Version)
	pv, err := version.NewVersion(v)
	if err != nil {
		return "", fmt.Errorf("testfeed: MSI version %q: %w", o.Version, err)
	}
	if _, err := exec.LookPath("wixl"); err != nil {
		return "", fmt.Errorf("testfeed: wixl not found (scripts/deps.sh installs it): %w", err)
	}
	progs, err := BuildWindowsPrograms()
	if err != nil {
		return "", err
	}
	files, err := MSIFiles(o)
	if err != nil {
		return "", err
	}
	stage, err := os.MkdirTemp(dir, ".msi-stage-")
	if err != nil {
		return "", fmt.Errorf("testfeed: %w", err)
	}
	defer func() { _ = os.RemoveAll(stage) }() // best effort: a temp folder

	seg := pv.Segments()
	for len(seg) < 3 {
		seg = append(seg, 0)
	}
	data := wxsData{
		ProductCode:       ProductCode(o),
		UpgradeCode:       UpgradeCode,
		Name:              ProductName,
		Manufacturer:      Manufacturer,
		Version:           fmt.Sprintf("%d.%d.%d", seg[0], seg[1], seg[2]),
		DowngradeError:    DowngradeError,
		Direct:            o.Direct,
		StartAdmin:        !o.NoStartAdmin,
		InstallLocation:   !o.NoInstallLocation,
		InstallDir:        InstallDir,
		Service:           ServiceName,
		AdminService:      AdminServiceName,
		ParametersConnKey: `SYSTEM\CurrentControlSet\Services\` + ServiceName + `\Parameters`,
		ParametersAdmKey:  `SYSTEM\CurrentControlSet\Services\` + AdminServiceName + `\Parameters`,
	}
	hash := sha256.New()
	fmt.Fprintf(hash, "%+v\n", o)
	// The stand-ins and the sample files, staged; the programs by path.
	root := &wxsDir{ID: "INSTALLDIR", Name: "AD LDAP Connector"}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		src := filepath.Join(stage, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
			return "", fmt.Errorf("testfeed: %w", err)
		}
		if err := os.WriteFile(src, files[n], 0o644); err != nil {
			return "", fmt.Errorf("testfeed: %w", err)
		}
		fmt.Fprintf(hash, "%s %x\n", n, sha256.Sum256(files[n]))
		root.add(n, filepath.FromSlash(n))
	}
	// wixl wants sources relative to its working folder: the programs are
	// copied into the stage.
	for _, p := range []struct{ name, src string }{{"node.exe", progs.Node}, {"nssm.exe", progs.NSSM}} {
		if p.name == "nssm.exe" && o.Direct {
			continue
		}
		b, err := os.ReadFile(p.src)
		if err != nil {
			return "", fmt.Errorf("testfeed: %w", err)
		}
		if err := os.WriteFile(filepath.Join(stage, p.name), b, 0o644); err != nil {
			return "", fmt.Errorf("testfeed: %w", err)
		}
		fmt.Fprintf(hash, "%s %x\n", p.name, sha256.Sum256(b))
	}
	data.Node = root.add("node.exe", "node.exe")
	if !o.Direct {
		data.NSSM = root.add("nssm.exe", "nssm.exe")
	}
	hash.Write([]byte(wxsSource))
	sum := hex.EncodeToString(hash.Sum(nil))
	data.PackageCode = guid("package:" + sum)
	out := filepath.Join(dir, MSIName(v))
	cache, err := cacheDir("msi")
	if err != nil {
		return "", err
	}
	cached := filepath.Join(cache, sum[:32]+".msi")
	if regular(cached) {
		if err := copyFile(cached, out); err != nil {
			return "", err
		}
		return out, nil
	}
	data.Root = root
	var services bytes.Buffer
	if err := wxsTemplate.ExecuteTemplate(&services, "services", data); err != nil {
		return "", fmt.Errorf("testfeed: render the WiX source: %w", err)
	}
	if o.Direct {
		data.Node.Extra = services.String()
	} else {
		data.NSSM.Extra = services.String()
	}

	var wxs bytes.Buffer
	if err := wxsTemplate.Execute(&wxs, data); err != nil {
		return "", fmt.Errorf("testfeed: render the WiX source: %w", err)
	}
	if err := os.WriteFile(filepath.Join(stage, "connector.wxs"), wxs.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("testfeed: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wixl", "-o", "out.msi", "connector.wxs")
	cmd.Dir = stage
	tmp := filepath.Join(stage, "out.msi")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("testfeed: wixl: %v\n%s", err, b)
	}
	if err := copyFile(tmp, out); err != nil {
		return "", err
	}
	pruneCache(cache, 24*time.Hour, 16)
	if err := os.Rename(tmp, cached); err != nil {
		return "", fmt.Errorf("testfeed: %w", err)
	}
	return out, nil
}

// copyFile copies src to dst (replaced, never followed if it is a link)
// through a temporary file in dst's folder.
func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("testfeed: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(dst), ".copy-")
	if err != nil {
		return fmt.Errorf("testfeed: %w", err)
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), dst)
	}
	if werr != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("testfeed: %w", werr)
	}
	return nil
}

// pruneCache removes the entries of a cache folder not changed for age,
// and the oldest beyond the newest keep (each test picking its own admin
// port makes its own MSIs).
func pruneCache(dir string, age time.Duration, keep int) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type entry struct {
		name string
		mod  time.Time
	}
	var list []entry
	for _, e := range entries {
		if info, err := e.Info(); err == nil && !strings.HasPrefix(e.Name(), ".") {
			list = append(list, entry{e.Name(), info.ModTime()})
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].mod.After(list[j].mod) })
	for i, e := range list {
		if i >= keep || time.Since(e.mod) > age {
			_ = os.RemoveAll(filepath.Join(dir, e.name)) // best effort
		}
	}
}

// MSIAsset builds the sample MSI of o in dir (BuildMSI) and returns it as
// the release asset MSIName(o.Version).
func MSIAsset(dir string, o MSIOptions) (AssetSpec, error) {
	p, err := BuildMSI(dir, o)
	if err != nil {
		return AssetSpec{}, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return AssetSpec{}, fmt.Errorf("testfeed: %w", err)
	}
	return AssetSpec{Name: MSIName(o.Version), Data: b}, nil
}

// MSILog reads an msiexec log (/l*v): UTF-16LE with or without a byte
// order mark, as Windows writes it, or 8-bit, as Wine's msiexec does; at
// most the last max bytes of the text are returned (max <= 0: all), with
// the first partial line dropped.
func MSILog(p string, max int) (string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	var text string
	if bytes.HasPrefix(b, []byte{0xff, 0xfe}) || len(b) >= 2 && b[1] == 0 {
		b = bytes.TrimPrefix(b, []byte{0xff, 0xfe})
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
		}
		text = string(utf16.Decode(u))
	} else {
		text = string(b)
	}
	text = strings.ReplaceAll(text, "\r\n", "\n")
	if max > 0 && len(text) > max {
		text = text[len(text)-max:]
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			text = text[i+1:]
		}
	}
	return text, nil
}

// guid is a name-based GUID (SHA-1, version 5 layout) in the MSI's
// "{XXXXXXXX-...}" form, upper case.
func guid(name string) string {
	sum := sha1.Sum([]byte("adldapctl-testfeed-msi:" + name))
	sum[6] = sum[6]&0x0f | 0x50
	sum[8] = sum[8]&0x3f | 0x80
	h := strings.ToUpper(hex.EncodeToString(sum[:16]))
	return "{" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32] + "}"
}

type wxsData struct {
	ProductCode, PackageCode, UpgradeCode string
	Name, Manufacturer, Version           string
	DowngradeError                        string
	Direct, StartAdmin, InstallLocation   bool
	InstallDir                            string
	Service, AdminService                 string
	ParametersConnKey, ParametersAdmKey   string
	Root                                  *wxsDir
	Node, NSSM                            *wxsFile
}

// wxsDir is a folder of the install, with its files and sub-folders.
type wxsDir struct {
	ID, Name string
	Files    []*wxsFile
	Dirs     []*wxsDir
}

type wxsFile struct {
	ID, ComponentID, GUID string
	Name, Source          string
	Extra                 string // more of the component (the services)
}

// add places the file at slash path rel (its content at src) and returns it.
func (d *wxsDir) add(rel, src string) *wxsFile {
	dir := d
	parts := strings.Split(rel, "/")
	for i, p := range parts[:len(parts)-1] {
		var sub *wxsDir
		for _, s := range dir.Dirs {
			if s.Name == p {
				sub = s
			}
		}
		if sub == nil {
			sub = &wxsDir{ID: wixID("d", strings.Join(parts[:i+1], "/")), Name: p}
			dir.Dirs = append(dir.Dirs, sub)
		}
		dir = sub
	}
	f := &wxsFile{
		ID:          wixID("f", rel),
		ComponentID: wixID("c", rel),
		GUID:        guid("component:" + rel),
		Name:        path.Base(rel),
		Source:      src,
	}
	switch rel {
	case "node.exe":
		f.ID = "node"
	case "nssm.exe":
		f.ID = "nssm"
	}
	dir.Files = append(dir.Files, f)
	return f
}

// wixID is an identifier for a path: letters, digits, _ and ., prefixed
// and suffixed with a hash so different paths never collide.
func wixID(prefix, rel string) string {
	var b strings.Builder
	for _, r := range rel {
		if r < 128 && (r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s := b.String()
	if len(s) > 40 {
		s = s[:40]
	}
	sum := sha1.Sum([]byte(rel))
	return prefix + "_" + s + "_" + hex.EncodeToString(sum[:4])
}

func xmlAttr(s string) string {
	var b bytes.Buffer
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&apos;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

var wxsTemplate = template.Must(template.New("wxs").Funcs(template.FuncMap{"x": xmlAttr}).Parse(wxsSource))

const wxsSource = `<?xml version="1.0" encoding="utf-8"?>
<!-- Sample Auth0 AD LDAP Connector MSI rendered by adldapctl's testfeed (test fixture). -->
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="{{.ProductCode}}" UpgradeCode="{{.UpgradeCode}}" Name="{{x .Name}}" Manufacturer="{{x .Manufacturer}}"
           Language="1033" Codepage="1252" Version="{{.Version}}">
    <Package Id="{{.PackageCode}}" Description="{{x .Name}} (adldapctl test sample)" Manufacturer="{{x .Manufacturer}}"
             InstallerVersion="200" Languages="1033" Compressed="yes" SummaryCodepage="1252" InstallScope="perMachine" />
    <Media Id="1" EmbedCab="yes" Cabinet="main.cab" />
    <MajorUpgrade DowngradeErrorMessage="{{x .DowngradeError}}" />
{{- if .InstallLocation}}
    <Property Id="ARPINSTALLLOCATION" Value="{{x .InstallDir}}\" />
{{- end}}
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFilesFolder">
        <Directory Id="Auth0_Folder" Name="Auth0">
{{template "dir" .Root}}
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Complete" Level="1">
{{- template "refs" .Root}}
    </Feature>
  </Product>
</Wix>
{{define "dir"}}<Directory Id="{{.ID}}" Name="{{x .Name}}">
{{- range .Files}}
  <Component Id="{{.ComponentID}}" Guid="{{.GUID}}">
    <File Id="{{.ID}}" Name="{{x .Name}}" Source="{{x .Source}}" KeyPath="yes" />
{{- .Extra}}
  </Component>
{{- end}}
{{- range .Dirs}}
{{template "dir" .}}
{{- end}}
</Directory>{{end}}
{{define "refs"}}
{{- range .Files}}
      <ComponentRef Id="{{.ComponentID}}" />
{{- end}}
{{- range .Dirs}}{{template "refs" .}}{{end}}
{{- end}}
{{define "services"}}
    <ServiceInstall Id="ConnectorService" Name="{{x .Service}}" DisplayName="{{x .Service}}" Description="Auth0 AD LDAP Connector (test sample)"
                    Type="ownProcess" Start="auto" ErrorControl="normal"{{if .Direct}} Arguments="--service &quot;{{x .Service}}&quot; &quot;[INSTALLDIR]server.js&quot;"{{end}} />
    <ServiceInstall Id="AdminService" Name="{{x .AdminService}}" DisplayName="{{x .AdminService}}" Description="Auth0 AD LDAP Connector admin UI (test sample)"
                    Type="ownProcess" Start="auto" ErrorControl="normal"{{if .Direct}} Arguments="--service &quot;{{x .AdminService}}&quot; &quot;[INSTALLDIR]admin\server.js&quot;"{{end}} />
    <ServiceControl Id="ControlAdminService" Name="{{x .AdminService}}"{{if .StartAdmin}} Start="install"{{end}} Stop="both" Remove="uninstall" Wait="yes" />
    <ServiceControl Id="ControlConnectorService" Name="{{x .Service}}" Stop="both" Remove="uninstall" Wait="yes" />
{{- if not .Direct}}
    <RegistryValue Root="HKLM" Key="{{x .ParametersConnKey}}" Name="Application" Type="string" Value="[INSTALLDIR]node.exe" />
    <RegistryValue Root="HKLM" Key="{{x .ParametersConnKey}}" Name="AppDirectory" Type="string" Value="[INSTALLDIR]" />
    <RegistryValue Root="HKLM" Key="{{x .ParametersConnKey}}" Name="AppParameters" Type="string" Value="&quot;[INSTALLDIR]server.js&quot;" />
    <RegistryValue Root="HKLM" Key="{{x .ParametersAdmKey}}" Name="Application" Type="string" Value="[INSTALLDIR]node.exe" />
    <RegistryValue Root="HKLM" Key="{{x .ParametersAdmKey}}" Name="AppDirectory" Type="string" Value="[INSTALLDIR]" />
    <RegistryValue Root="HKLM" Key="{{x .ParametersAdmKey}}" Name="AppParameters" Type="string" Value="&quot;[INSTALLDIR]admin\server.js&quot;" />
{{- end}}
{{- end}}
`
