package platform

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
)

// This file holds the pure parts of the Windows platform layer (registry
// value parsing and merging), built on every OS so they are unit tested
// anywhere. The registry, SCM and certificate store calls are in the
// *_windows.go files.

// ImagePath is a service's registered command line split into its program
// and the rest.
type ImagePath struct {
	Exe  string // the program, without quotes
	Args string // everything after it, as registered
}

// ParseImagePath splits a service's ImagePath. A quoted program runs to
// its closing quote; an unquoted one (C:\Program Files\x\nssm.exe args,
// which Windows resolves by trying each space) runs to the first ".exe"
// followed by a space or the end, else to the first space.
func ParseImagePath(s string) (ImagePath, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return ImagePath{}, errors.New("empty ImagePath")
	}
	if s[0] == '"' {
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return ImagePath{}, fmt.Errorf("ImagePath %q: unterminated quote", s)
		}
		return ImagePath{Exe: s[1 : end+1], Args: strings.TrimSpace(s[end+2:])}, nil
	}
	low := strings.ToLower(s)
	for i := 0; ; {
		j := strings.Index(low[i:], ".exe")
		if j < 0 {
			break
		}
		e := i + j + len(".exe")
		if e == len(s) || s[e] == ' ' || s[e] == '\t' {
			return ImagePath{Exe: s[:e], Args: strings.TrimSpace(s[e:])}, nil
		}
		i = e
	}
	exe, args, _ := strings.Cut(s, " ")
	return ImagePath{Exe: exe, Args: strings.TrimSpace(args)}, nil
}

// winBase is the last element of a Windows path (either separator).
func winBase(p string) string {
	return path.Base(strings.ReplaceAll(p, `\`, "/"))
}

// winDir is the folder of a Windows path, "" when it has none.
func winDir(p string) string {
	i := strings.LastIndexAny(p, `\/`)
	if i <= 0 {
		return ""
	}
	if i == 2 && p[1] == ':' {
		return p[:3] // C:\
	}
	return p[:i]
}

// IsNSSM reports whether the program of an ImagePath is nssm.exe: the
// service then runs the program named in its Parameters key.
func (ip ImagePath) IsNSSM() bool { return strings.EqualFold(winBase(ip.Exe), "nssm.exe") }

// PackGUID converts {AAAAAAAA-BBBB-CCCC-DDEE-FFGGHHIIJJKK} into the packed
// form Windows Installer uses as key and value names under
// Installer\UpgradeCodes and Installer\Products: the first three groups
// reversed, then each following byte with its two hex digits swapped.
func PackGUID(guid string) (string, error) {
	g := strings.ToUpper(strings.Trim(strings.TrimSpace(guid), "{}"))
	parts := strings.Split(g, "-")
	if len(parts) != 5 || len(parts[0]) != 8 || len(parts[1]) != 4 || len(parts[2]) != 4 || len(parts[3]) != 4 || len(parts[4]) != 12 {
		return "", fmt.Errorf("%q is not a GUID ({xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx})", guid)
	}
	for _, c := range g {
		if c != '-' && !strings.ContainsRune("0123456789ABCDEF", c) {
			return "", fmt.Errorf("%q is not a GUID: %q is not a hex digit", guid, c)
		}
	}
	var b strings.Builder
	for _, p := range parts[:3] {
		b.WriteString(reverse(p))
	}
	rest := parts[3] + parts[4]
	for i := 0; i < len(rest); i += 2 {
		b.WriteByte(rest[i+1])
		b.WriteByte(rest[i])
	}
	return b.String(), nil
}

// UnpackGUID is the inverse of PackGUID: {GUID} from 32 packed hex digits.
func UnpackGUID(packed string) (string, error) {
	p := strings.ToUpper(strings.TrimSpace(packed))
	if len(p) != 32 {
		return "", fmt.Errorf("%q is not a packed GUID (32 hex digits)", packed)
	}
	for _, c := range p {
		if !strings.ContainsRune("0123456789ABCDEF", c) {
			return "", fmt.Errorf("%q is not a packed GUID: %q is not a hex digit", packed, c)
		}
	}
	var rest strings.Builder
	for i := 16; i < 32; i += 2 {
		rest.WriteByte(p[i+1])
		rest.WriteByte(p[i])
	}
	r := rest.String()
	return "{" + reverse(p[0:8]) + "-" + reverse(p[8:12]) + "-" + reverse(p[12:16]) + "-" + r[:4] + "-" + r[4:] + "}", nil
}

func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

// UninstallEntry is one key under ...\CurrentVersion\Uninstall.
type UninstallEntry struct {
	Key             string // the key name: {ProductCode} for an MSI product
	DisplayName     string
	DisplayVersion  string
	InstallLocation string
	UpgradeCode     string // when the entry records one (few do)
}

// connectorNames are DisplayNames the connector's MSI has used: its
// Product Name is "Auth0 AD LDAP Connector".
var connectorNames = []string{"auth0 ad ldap connector", "auth0 active directory/ldap connector", "auth0 ad/ldap connector", "ad ldap connector"}

// MatchConnector picks the connector's uninstall entry: the entry whose
// key is a product code registered under the connector's UpgradeCode
// (products, from Installer\UpgradeCodes), else one whose UpgradeCode value
// is the connector's, else one with a connector DisplayName. Among several,
// the highest DisplayVersion wins. ok is false when none matches.
func MatchConnector(entries []UninstallEntry, products []string) (UninstallEntry, bool) {
	isProduct := map[string]bool{}
	for _, p := range products {
		isProduct[strings.ToUpper(p)] = true
	}
	tiers := []func(UninstallEntry) bool{
		func(e UninstallEntry) bool { return isProduct[strings.ToUpper(e.Key)] },
		func(e UninstallEntry) bool { return strings.EqualFold(e.UpgradeCode, ConnectorUpgradeCode) },
		func(e UninstallEntry) bool {
			n := strings.ToLower(strings.Join(strings.Fields(e.DisplayName), " "))
			for _, c := range connectorNames {
				if n == c {
					return true
				}
			}
			return false
		},
	}
	for _, match := range tiers {
		var found []UninstallEntry
		for _, e := range entries {
			if match(e) {
				found = append(found, e)
			}
		}
		if len(found) > 0 {
			sort.SliceStable(found, func(i, j int) bool { return versionLess(found[j].DisplayVersion, found[i].DisplayVersion) })
			return found[0], true
		}
	}
	return UninstallEntry{}, false
}

// versionLess compares dotted numeric versions (missing parts are 0).
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			_, _ = fmt.Sscan(pa[i], &x)
		}
		if i < len(pb) {
			_, _ = fmt.Sscan(pb[i], &y)
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// ProxyEnvKeys are the service environment variables adldapctl owns (the
// proxy, as `proxy set` writes them): every other entry of a service's
// environment belongs to someone else and is kept.
var ProxyEnvKeys = []string{"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"}

// MergeEnvBlock returns a REG_MULTI_SZ environment (KEY=value entries, as
// nssm's AppEnvironmentExtra and a service's Environment hold) with
// adldapctl's entries replaced by env: entries whose name is one of
// ProxyEnvKeys or a key of env are dropped, the others kept in order, then
// env's entries are appended sorted. Windows names are case-insensitive,
// so of HTTP_PROXY and http_proxy only the first in sorted order (the upper
// case one) is written. An empty result means: delete the value.
func MergeEnvBlock(old []string, env map[string]string) []string {
	ours := map[string]bool{}
	for _, k := range ProxyEnvKeys {
		ours[strings.ToUpper(k)] = true
	}
	for k := range env {
		ours[strings.ToUpper(k)] = true
	}
	var out []string
	for _, e := range old {
		if e == "" {
			continue
		}
		k, _, _ := strings.Cut(e, "=")
		if k == "" && strings.HasPrefix(e, "=") { // =C:=C:\ style entries
			k = "=" + strings.SplitN(e[1:], "=", 2)[0]
		}
		if ours[strings.ToUpper(k)] {
			continue
		}
		out = append(out, e)
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[strings.ToUpper(k)] {
			continue
		}
		seen[strings.ToUpper(k)] = true
		out = append(out, k+"="+env[k])
	}
	return out
}

// EnvFromBlock reads adldapctl's entries (ProxyEnvKeys) from a
// REG_MULTI_SZ environment, by their upper-case names.
func EnvFromBlock(block []string) map[string]string {
	ours := map[string]bool{}
	for _, k := range ProxyEnvKeys {
		ours[strings.ToUpper(k)] = true
	}
	var m map[string]string
	for _, e := range block {
		k, v, ok := strings.Cut(e, "=")
		if !ok || !ours[strings.ToUpper(k)] {
			continue
		}
		if m == nil {
			m = map[string]string{}
		}
		if _, dup := m[strings.ToUpper(k)]; !dup {
			m[strings.ToUpper(k)] = v
		}
	}
	return m
}
