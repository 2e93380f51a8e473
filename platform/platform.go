package platform

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// ServiceName is the connector's service on Linux (systemd unit
// auth0-adldap.service). Use Platform.Service, which is right per OS.
const ServiceName = "auth0-adldap"

// WindowsServiceName and WindowsAdminServiceName are the services the
// connector's MSI registers.
const (
	WindowsServiceName      = "Auth0 ADLDAP"
	WindowsAdminServiceName = "Auth0 ADLDAP Admin"
)

// ErrNeedsElevation is returned when a command needs root or an elevated
// prompt and does not have it.
var ErrNeedsElevation = errors.New("needs elevation")

// ErrNotSupported is returned by parts of the platform layer that are not
// implemented on this OS yet. It never pretends to succeed.
var ErrNotSupported = errors.New("not supported on this platform yet")

// Paths are the system paths adldapctl reads and writes, already prefixed
// with the root (see Detect).
type Paths struct {
	InstallDir    string // the connector's program folder
	ConfigFile    string // <InstallDir>/config.json
	LogFile       string // the connector's log
	UnitFile      string // service definition (Linux): the systemd unit, or the init script on a SysV host
	LogrotateFile string // logrotate snippet (Linux)
	StateDir      string // adldapctl's own state: install record, journal, lock
	LockFile      string
	CacheDir      string // downloads
	ToolConfig    string // adldapctl's own settings
	ToolBinary    string // where packages install adldapctl itself (self-update's target under --root)
	TrustAnchors  string // distro trust anchors folder (Linux)
	// ServiceEnvFile holds environment variables for the connector's
	// service (the proxy), mode 0600: systemd reads it through
	// ServiceDropIn, the SysV init script sources it.
	ServiceEnvFile string
	ServiceDropIn  string // systemd drop-in naming ServiceEnvFile
}

// Platform is what Detect found. It is computed once per process.
type Platform struct {
	OS       string // "linux" or "windows"
	Arch     string
	Distro   string // os-release ID, e.g. "debian"
	Family   string // debian, rhel, suse, alpine, or "" when unknown
	Version  string // os-release VERSION_ID
	Init     string // "systemd", "sysv", "openrc", "runit", "s6-svscan", "windows", or "none" under --root
	Root     string // "" or the --root prefix
	Paths    Paths
	NodePath string // node executable found on PATH (Linux), "" when missing
	// Service is the connector's service name: auth0-adldap (systemd unit
	// or init script) on Linux, "Auth0 ADLDAP" on Windows.
	Service string
	// AdminService is the connector's admin console service on Windows
	// ("Auth0 ADLDAP Admin"); "" on Linux, where there is none.
	AdminService string
}

// Sandboxed reports whether --root was given: service and trust-store work
// is then done on files under Root and no host manager is called.
func (p *Platform) Sandboxed() bool { return p.Root != "" }

// Unrooted returns path as seen from inside the --root: what a unit file
// or the running connector must name.
func (p *Platform) Unrooted(path string) string {
	if p.Root == "" {
		return path
	}
	rel, err := filepath.Rel(p.Root, path)
	if err != nil {
		return path
	}
	return "/" + filepath.ToSlash(rel)
}

// DetectOptions lets tests replace the probes.
type DetectOptions struct {
	Root     string
	GOOS     string // default runtime.GOOS
	LookPath func(string) (string, error)
}

// Detect inspects the system once. root, when non-empty, prefixes every
// path; /etc/os-release is then read from under root too.
func Detect(root string) (*Platform, error) {
	return DetectWith(DetectOptions{Root: root})
}

// DetectWith is Detect with injectable probes.
func DetectWith(o DetectOptions) (*Platform, error) {
	goos := o.GOOS
	if goos == "" {
		goos = runtime.GOOS
	}
	root := o.Root
	if root != "" {
		abs, err := filepath.Abs(root)
		if err != nil {
			return nil, fmt.Errorf("--root %s: %w", root, err)
		}
		root = abs
	}
	p := &Platform{OS: goos, Arch: runtime.GOARCH, Root: root, Service: ServiceName}
	switch goos {
	case "windows":
		p.Init = "windows"
		p.Service, p.AdminService = WindowsServiceName, WindowsAdminServiceName
		p.Paths = windowsPaths(root)
		if root == "" {
			// An installed connector is where its MSI put it.
			if prod, err := p.findConnector(); err == nil && prod != nil && prod.InstallLocation != "" {
				p.Paths = withInstallDir(p.Paths, filepath.Clean(prod.InstallLocation))
			}
		}
	default:
		data, err := os.ReadFile(join(root, "/etc/os-release"))
		if err != nil {
			data, _ = os.ReadFile(join(root, "/usr/lib/os-release"))
		}
		rel := ParseOSRelease(data)
		p.Distro, p.Version = rel["ID"], rel["VERSION_ID"]
		p.Family = DistroFamily(rel["ID"], rel["ID_LIKE"])
		p.Paths = linuxPaths(root, p.Family)
		p.Init = detectInit(root)
		if p.Init == "sysv" {
			p.Paths.UnitFile = join(root, "/etc/init.d/"+ServiceName)
		}
	}
	look := o.LookPath
	if look == nil {
		look = lookPath
	}
	if goos != "windows" {
		if np, err := look("node"); err == nil {
			p.NodePath = np
		}
	}
	return p, nil
}

func join(root, p string) string {
	if root == "" {
		return filepath.FromSlash(p)
	}
	return filepath.Join(root, filepath.FromSlash(p))
}

func linuxPaths(root, family string) Paths {
	anchors := TrustLayoutFor(family).AnchorDir
	return Paths{
		InstallDir:    join(root, "/opt/auth0-adldap"),
		ConfigFile:    join(root, "/opt/auth0-adldap/config.json"),
		LogFile:       join(root, "/var/log/auth0-adldap.log"),
		UnitFile:      join(root, "/etc/systemd/system/"+ServiceName+".service"),
		LogrotateFile: join(root, "/etc/logrotate.d/"+ServiceName),
		StateDir:      join(root, "/var/lib/adldapctl"),
		LockFile:      join(root, "/var/lib/adldapctl/lock"),
		CacheDir:      join(root, "/var/cache/adldapctl"),
		ToolConfig:    join(root, "/etc/adldapctl/config.json"),
		ToolBinary:    join(root, "/usr/bin/adldapctl"),
		TrustAnchors:  join(root, anchors),

		ServiceEnvFile: join(root, "/etc/adldapctl/proxy.env"),
		ServiceDropIn:  join(root, "/etc/systemd/system/"+ServiceName+".service.d/proxy.conf"),
	}
}

func windowsPaths(root string) Paths {
	pf, pf64, pd := windowsFolders()
	if root != "" {
		pf = filepath.Join(root, "Program Files (x86)")
		pf64 = filepath.Join(root, "Program Files")
		pd = filepath.Join(root, "ProgramData")
	}
	state := filepath.Join(pd, "adldapctl")
	return withInstallDir(Paths{
		StateDir:   state,
		LockFile:   filepath.Join(state, "lock"),
		CacheDir:   filepath.Join(state, "cache"),
		ToolConfig: filepath.Join(state, "config.json"),
		ToolBinary: filepath.Join(pf64, "adldapctl", "adldapctl.exe"),
	}, filepath.Join(pf, "Auth0", "AD LDAP Connector"))
}

// withInstallDir sets the connector's folder and the files in it.
func withInstallDir(ps Paths, inst string) Paths {
	ps.InstallDir = inst
	ps.ConfigFile = filepath.Join(inst, "config.json")
	ps.LogFile = filepath.Join(inst, "logs.log")
	return ps
}

func detectInit(root string) string {
	if root != "" {
		return "none"
	}
	if fi, err := os.Stat("/run/systemd/system"); err == nil && fi.IsDir() {
		return "systemd"
	}
	if b, err := os.ReadFile("/proc/1/comm"); err == nil {
		switch comm := strings.TrimSpace(string(b)); comm {
		case "systemd":
			return "systemd"
		case "runit", "s6-svscan", "openrc-init":
			return strings.TrimSuffix(comm, "-init")
		}
	}
	if _, err := os.Stat("/sbin/openrc-run"); err == nil {
		return "openrc"
	}
	return "sysv"
}

// ParseOSRelease parses the KEY=value lines of os-release(5).
func ParseOSRelease(data []byte) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
			v = strings.NewReplacer(`\"`, `"`, `\\`, `\`, `\$`, `$`, "\\`", "`").Replace(v)
		}
		m[strings.TrimSpace(k)] = v
	}
	return m
}

// DistroFamily maps an os-release ID (and ID_LIKE) to a family: debian,
// rhel, suse or alpine; "" when unknown.
func DistroFamily(id, idLike string) string {
	for _, c := range append([]string{id}, strings.Fields(idLike)...) {
		switch strings.ToLower(c) {
		case "debian", "ubuntu", "raspbian", "linuxmint":
			return "debian"
		case "rhel", "fedora", "centos", "rocky", "almalinux", "ol", "amzn":
			return "rhel"
		case "suse", "sles", "opensuse", "opensuse-leap", "opensuse-tumbleweed", "sled":
			return "suse"
		case "alpine":
			return "alpine"
		}
	}
	return ""
}

// TrustUpdateCommand is the distro's command that rebuilds the OS store
// from the anchors folder.
func (p *Platform) TrustUpdateCommand() []string {
	return append([]string(nil), TrustLayoutFor(p.Family).Update...)
}

// RequireElevation returns ErrNeedsElevation (with how to elevate) unless the
// process may change system paths. Under --root the caller needs only write
// access to the root folder.
func (p *Platform) RequireElevation() error {
	if p.Sandboxed() {
		return nil
	}
	if isElevated() {
		return nil
	}
	if p.OS == "windows" {
		return fmt.Errorf("%w: run adldapctl from an elevated prompt (Run as administrator)", ErrNeedsElevation)
	}
	return fmt.Errorf("%w: run as root (for example: sudo adldapctl ...)", ErrNeedsElevation)
}
