package connector

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"
)

// The config.json keys that name customer files.
const (
	KeyMapperFile = "PROFILE_MAPPER_FILE"
	KeyCAPath     = "SSL_CA_PATH"
)

// ErrCustomerPath is wrapped by every *CustomerPathError.
var ErrCustomerPath = errors.New("config.json names an unusable customer path")

// CustomerPathError says which config.json key names a path adldapctl must
// not treat as a customer file, and how to fix it.
type CustomerPathError struct {
	Key    string // PROFILE_MAPPER_FILE or SSL_CA_PATH
	Value  string // the value as written in config.json
	File   string // the config.json it was read from
	Reason string // what is wrong, e.g. "is the install folder itself"
	Fix    string // what to do
	// Outside is set when the only fault is that the path lies outside
	// the install folder, so a caller may choose to leave it alone.
	Outside bool
}

func (e *CustomerPathError) Error() string {
	return fmt.Sprintf("%s %q in %s %s: %s", e.Key, e.Value, e.File, e.Reason, e.Fix)
}

func (e *CustomerPathError) Unwrap() error { return ErrCustomerPath }

// ProgramPaths are the top-level names of the connector's program: every
// entry of a release's source tree (auth0/ad-ldap-connector at v6.x: the
// tarball the Linux install unpacks ships all of them, dot files included),
// node_modules (written by npm ci), and node.exe and nssm.exe (added by the
// Windows MSI). Every install, update and rollback replaces them, so none
// of them, nor anything under them, can be a customer path; the one
// exception is a profile mapper file directly in lib/ that the release does
// not ship (see libProgramFiles).
var ProgramPaths = []string{
	".env.local.sample", ".eslintrc.js", ".github", ".gitignore", ".jshintrc",
	".npmrc", ".nvmrc", ".snyk", ".travis.yml",
	"CENTOS.md", "CHANGELOG.md", "CODEOWNERS", "CONTRIBUTING.md",
	"LICENSE.rtf", "LICENSE.txt", "README.md",
	"admin", "config.json.enc", "connector-setup", "endpoints.js", "eventlog.js",
	"installer", "latency_test.js", "lib", "mock-ldap-server.js", "node_modules",
	"opslevel.yml", "package-lock.json", "package.json", "public", "server.js",
	"test", "troubleshoot.cmd", "troubleshoot.js", "update-connector.cmd",
	"update-connector.ps1", "views", "ws_validator.js",
	"node.exe", "nssm.exe",
}

// libProgramFiles are the entries of lib/ a release ships, besides the
// customer's profileMapper.js. A mapper in lib/ must not take one of these
// names: carrying it would put an old program file into the new version.
var libProgramFiles = []string{
	"add_certs.js", "cache.js", "clock_skew_detector.js", "crypto.js", "errors",
	"escapeLdapFilter.js", "exit.js", "firewall.js", "graph.js", "initConf.js",
	"ldap.js", "objectsid.js", "parseLdapFilter.js", "setupPassport.js",
	"setupProxy.js", "users.js", "wsfederation-responses.js",
}

// Layout is a connector install as adldapctl reaches it and as the
// connector itself sees it.
type Layout struct {
	// InstallDir is the install folder adldapctl works on (under --root
	// when one is given).
	InstallDir string
	// ConnectorDir is the same folder as the running connector sees it:
	// absolute paths in config.json are compared with it. "" means
	// InstallDir; under --root it is the path without the root prefix.
	ConnectorDir string
	// OS picks the path rules: "windows", or anything else for Unix.
	// "" means the rules of the OS adldapctl runs on.
	OS string
}

// CheckCustomerPaths checks that PROFILE_MAPPER_FILE and SSL_CA_PATH in cfg
// (which may be nil) name a file or folder strictly inside installDir that
// is not part of the program, with the rules of the host OS. It returns nil
// or one *CustomerPathError per bad key (joined), each naming the key, its
// value and the fix; callers must refuse to change anything then.
func CheckCustomerPaths(installDir string, cfg *Config) error {
	return Layout{InstallDir: installDir}.Check(cfg)
}

// Check is CheckCustomerPaths for l.
func (l Layout) Check(cfg *Config) error {
	if cfg == nil {
		return nil
	}
	var errs []error
	for _, key := range []string{KeyMapperFile, KeyCAPath} {
		if _, err := l.customerPath(cfg, key); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// CustomerPaths returns the paths, relative to installDir (slash form),
// that the customer owns and every install, update, rollback and uninstall
// (without --purge) keeps byte for byte: config.json, certs/, the profile
// mapper (PROFILE_MAPPER_FILE or lib/profileMapper.js) and the SSL_CA_PATH
// folder. cfg may be nil. A key that CheckCustomerPaths refuses is left
// out, so the result never holds "." (the install dir), a path outside it,
// or a program path; no path in it lies inside another.
func CustomerPaths(installDir string, cfg *Config) []string {
	return Layout{InstallDir: installDir}.CustomerPaths(cfg)
}

// CustomerPaths is the package's CustomerPaths for l.
func (l Layout) CustomerPaths(cfg *Config) []string {
	paths := []string{ConfigFile, CertsDir, DefaultMapperFile}
	if cfg != nil {
		for _, key := range []string{KeyMapperFile, KeyCAPath} {
			if rels, err := l.customerPath(cfg, key); err == nil {
				paths = append(paths, rels...)
			}
		}
	}
	return outermost(paths, l.windows())
}

// outermost drops duplicates and paths inside another listed path, keeping
// the order of first appearance.
func outermost(paths []string, win bool) []string {
	var out []string
	for i, p := range paths {
		covered := false
		for j, q := range paths {
			if i == j {
				continue
			}
			if (j < i && samePath(p, q, win)) || isUnder(p, q, win) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, p)
		}
	}
	return out
}

func samePath(a, b string, win bool) bool {
	if win {
		return strings.EqualFold(a, b)
	}
	return a == b
}

// isUnder reports whether slash path p lies strictly under q.
func isUnder(p, q string, win bool) bool {
	return len(p) > len(q) && p[len(q)] == '/' && samePath(p[:len(q)], q, win)
}

func (l Layout) windows() bool {
	if l.OS == "" {
		return hostWindows
	}
	return l.OS == "windows"
}

func (l Layout) configFile() string {
	return filepath.Join(l.InstallDir, ConfigFile)
}

// customerPath resolves key in cfg to the customer paths it names (none
// when unset), or a *CustomerPathError.
func (l Layout) customerPath(cfg *Config, key string) ([]string, error) {
	raw, ok := cfg.Raw(key)
	if !ok {
		return nil, nil
	}
	fail := func(value, reason string, outside bool) error {
		return &CustomerPathError{Key: key, Value: value, File: l.configFile(), Reason: reason,
			Fix: l.fix(key), Outside: outside}
	}
	switch t := strings.TrimSpace(string(raw)); t {
	case `""`, "null", "false":
		// The connector reads these as "not set" (its default for
		// SSL_CA_PATH is false).
		return nil, nil
	}
	if len(raw) == 0 || strings.TrimSpace(string(raw))[0] != '"' {
		return nil, fail(string(raw), "is not a string", false)
	}
	value := cfg.String(key)
	rels, reason, outside := l.resolve(key, value)
	if reason != "" {
		return nil, fail(value, reason, outside)
	}
	return rels, nil
}

func (l Layout) fix(key string) string {
	dir := l.ConnectorDir
	if dir == "" {
		dir = l.InstallDir
	}
	sep := "/"
	if l.windows() {
		sep = `\`
	}
	file := l.configFile()
	switch key {
	case KeyMapperFile:
		return fmt.Sprintf("set %s in %s to a file of your own inside the install folder, such as %s (a relative path starts with ./ or ../ and counts from lib%s, as Node's require does), or remove the key to use lib%sprofileMapper.js",
			key, file, dir+sep+"custom"+sep+"profileMapper.js", sep, sep)
	default:
		return fmt.Sprintf("set %s in %s to a folder of CA certificates inside the install folder, such as %s, or remove the key to use the system's CA store",
			key, file, dir+sep+"ca")
	}
}

// resolve applies the connector's own rules to value. PROFILE_MAPPER_FILE
// is passed to require() in lib/users.js: absolute, or relative to lib/
// when it starts with ./ or ../, else a module looked up in node_modules.
// SSL_CA_PATH is read with fs.readdir, relative to the service's working
// directory, the install dir. It returns the customer paths relative to the
// install dir, or the reason value is refused (and whether it is refused
// only for lying outside).
func (l Layout) resolve(key, value string) (rels []string, reason string, outside bool) {
	win := l.windows()
	p, reason := parsePath(value, win)
	if reason != "" {
		return nil, reason, false
	}
	var parts []string
	switch {
	case p.abs:
		dirStr := l.ConnectorDir
		if dirStr == "" {
			dirStr = l.InstallDir
		}
		dir, r := parsePath(dirStr, win)
		if r != "" || !dir.abs {
			return nil, "is an absolute path outside the install folder", true
		}
		full, base := cleanAbs(p.parts), cleanAbs(dir.parts)
		if !samePart(p.drive, dir.drive, win) || len(full) < len(base) {
			return nil, "lies outside the install folder", true
		}
		for i := range base {
			if !samePart(full[i], base[i], win) {
				return nil, "lies outside the install folder", true
			}
		}
		parts = full[len(base):]
	case key == KeyMapperFile && !p.dotRelative:
		return nil, "is a module name: Node's require looks it up in node_modules, which every update replaces", false
	default:
		var base []string
		if key == KeyMapperFile {
			base = []string{"lib"}
		}
		var ok bool
		if parts, ok = cleanRel(base, p.parts); !ok {
			return nil, "leads out of the install folder", true
		}
	}
	if len(parts) == 0 {
		return nil, "is the install folder itself", false
	}
	if key == KeyMapperFile && p.dirSyntax {
		return nil, "names a folder, not the mapper file", false
	}
	rel := strings.Join(parts, "/")
	candidates := []string{rel}
	last := parts[len(parts)-1]
	if key == KeyMapperFile && !strings.Contains(last, ".") {
		// require() tries these extensions after the bare name.
		candidates = append(candidates, rel+".js", rel+".json", rel+".node")
	}
	for _, c := range candidates {
		if r := programPath(key, strings.Split(c, "/"), win); r != "" {
			return nil, r, false
		}
	}
	if key == KeyCAPath && looksLikeFile(last) {
		return nil, "names a file; it must be the folder that holds the CA certificates", false
	}
	return candidates, "", false
}

// programPath says why rel (cleaned parts) is part of the program, or "".
func programPath(key string, parts []string, win bool) string {
	if !inList(parts[0], ProgramPaths, win) {
		return ""
	}
	if key == KeyMapperFile && samePart(parts[0], "lib", win) && len(parts) == 2 &&
		!inList(parts[1], libProgramFiles, win) {
		return ""
	}
	what := parts[0]
	if len(parts) > 1 {
		what = parts[0] + "/" + parts[1]
	}
	return fmt.Sprintf("is part of the connector program (%s), which every install and update replaces", what)
}

func looksLikeFile(name string) bool {
	ext := strings.ToLower(path.Ext(name))
	switch ext {
	case ".pem", ".crt", ".cer", ".der", ".key", ".js", ".json", ".pfx", ".p12":
		return true
	}
	return false
}

func inList(name string, list []string, win bool) bool {
	for _, s := range list {
		if samePart(name, s, win) {
			return true
		}
	}
	return false
}

// samePart compares path components as the file system does: case folded
// on Windows.
func samePart(a, b string, win bool) bool {
	if win {
		return strings.EqualFold(a, b)
	}
	return a == b
}

// parsedPath is a path value split into components, before cleaning.
type parsedPath struct {
	abs         bool
	drive       string // "C:" for an absolute Windows path
	parts       []string
	dirSyntax   bool // ends in a separator, "." or ".."
	dotRelative bool // starts with ./ or ../ (or is . or ..): require's relative form
}

// parsePath splits value with the rules of Windows (win) or Unix, or says
// why it is refused. It never touches the file system.
func parsePath(value string, win bool) (parsedPath, string) {
	var p parsedPath
	if value == "" {
		return p, "is empty"
	}
	if strings.TrimSpace(value) != value {
		return p, "has leading or trailing spaces"
	}
	if win && strings.HasPrefix(strings.ReplaceAll(value, `\`, "/"), "//") {
		return p, "is a network (UNC) or device path; use a folder on this server's disk"
	}
	for _, r := range value {
		if r == 0 || (win && r < 0x20) {
			return p, "contains a control character"
		}
		if win && strings.ContainsRune(`<>"|?*`, r) {
			return p, fmt.Sprintf("contains %q, which Windows does not allow in a path", r)
		}
	}
	v := value
	if win {
		v = strings.ReplaceAll(v, `\`, "/")
	} else {
		if strings.Contains(v, `\`) {
			return p, `contains a backslash: this looks like a Windows path; on Linux the separator is /`
		}
		if hasDrive(v) {
			return p, "is a Windows path (drive letter); on Linux paths start with /"
		}
	}
	if win {
		switch {
		case hasDrive(v):
			if len(v) == 2 || v[2] != '/' {
				return p, fmt.Sprintf("is relative to the current folder of drive %s; write the full path, such as %s\\...", v[:2], strings.ToUpper(v[:2]))
			}
			p.abs, p.drive, v = true, strings.ToUpper(v[:2]), v[3:]
		case strings.HasPrefix(v, "/"):
			return p, `has no drive letter; write the full path, such as C:\...`
		}
		if strings.Contains(v, ":") {
			return p, `contains ":" (an alternate data stream such as file:stream), which is not a file of its own`
		}
	} else if strings.HasPrefix(v, "/") {
		p.abs, v = true, v[1:]
	}
	p.parts = strings.Split(v, "/")
	first, last := p.parts[0], p.parts[len(p.parts)-1]
	p.dirSyntax = last == "" || last == "." || last == ".."
	p.dotRelative = !p.abs && (first == "." || first == "..")
	if win {
		for _, c := range p.parts {
			if r := windowsComponent(c); r != "" {
				return p, r
			}
		}
	}
	return p, ""
}

func hasDrive(v string) bool {
	return len(v) >= 2 && v[1] == ':' && (v[0]|0x20 >= 'a' && v[0]|0x20 <= 'z')
}

// WindowsNameProblem says why Windows would not take c, one path component,
// as a plain file name of its own (a reserved device name such as CON or
// NUL, an alternate data stream "file:stream", a trailing dot or space
// Windows drops, an 8.3 short name), or "" when it is a plain name.
func WindowsNameProblem(c string) string {
	if strings.Contains(c, ":") {
		return fmt.Sprintf("has %q, with a \":\" (an alternate data stream such as file:stream), which is not a file of its own", c)
	}
	return windowsComponent(c)
}

// windowsComponent says why Windows would not take c as a plain file name
// of its own, or "".
func windowsComponent(c string) string {
	if c == "" || c == "." || c == ".." {
		return ""
	}
	if strings.HasSuffix(c, ".") || strings.HasSuffix(c, " ") {
		return fmt.Sprintf("has %q, which ends in a dot or space that Windows drops (so it names another file)", c)
	}
	stem := strings.ToUpper(c)
	if i := strings.IndexByte(stem, '.'); i >= 0 {
		stem = stem[:i]
	}
	stem = strings.TrimRight(stem, " ")
	switch stem {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return fmt.Sprintf("has %q, a reserved Windows device name", c)
	}
	if len(stem) == 4 && (strings.HasPrefix(stem, "COM") || strings.HasPrefix(stem, "LPT")) && stem[3] >= '0' && stem[3] <= '9' {
		return fmt.Sprintf("has %q, a reserved Windows device name", c)
	}
	if (strings.HasPrefix(stem, "COM") || strings.HasPrefix(stem, "LPT")) && strings.ContainsAny(stem[3:], "¹²³") {
		return fmt.Sprintf("has %q, a reserved Windows device name", c)
	}
	if i := strings.IndexByte(c, '~'); i >= 0 && i+1 < len(c) && c[i+1] >= '0' && c[i+1] <= '9' {
		return fmt.Sprintf("has %q, which looks like a short (8.3) name that can stand for another file; write the long name", c)
	}
	return ""
}

// cleanAbs resolves "." and ".." in the parts of an absolute path; ".."
// at the root stays at the root.
func cleanAbs(parts []string) []string {
	var out []string
	for _, c := range parts {
		switch c {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, c)
		}
	}
	return out
}

// cleanRel is cleanParts for a relative path; ok is false when it climbs
// above the install dir.
func cleanRel(base, parts []string) ([]string, bool) {
	out := append([]string(nil), base...)
	for _, c := range parts {
		switch c {
		case "", ".":
		case "..":
			if len(out) == 0 {
				return nil, false
			}
			out = out[:len(out)-1]
		default:
			out = append(out, c)
		}
	}
	return out, true
}
