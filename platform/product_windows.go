//go:build windows

package platform

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/windows/registry"
)

// uninstallKey holds the Programs and Features entries; the connector's
// MSI is 32-bit, so on 64-bit Windows its entry is in the WOW6432Node view.
const uninstallKey = `SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall`

// upgradeCodesKey maps a packed UpgradeCode to the packed product codes
// installed under it (Windows Installer's own record).
const upgradeCodesKey = `SOFTWARE\Classes\Installer\UpgradeCodes`

// connectorLookup names where findConnector looks, so tests can point it
// at keys they write.
type connectorLookup struct {
	uninstallKeys []string // HKLM paths whose subkeys are uninstall entries
	upgradeCodes  string   // HKLM path of Installer\UpgradeCodes
	service       string   // service name
}

func (p *Platform) findConnector() (*ConnectorProduct, error) {
	return findConnectorIn(connectorLookup{
		uninstallKeys: []string{uninstallKey, `SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall`},
		upgradeCodes:  upgradeCodesKey,
		service:       p.Service,
	})
}

func findConnectorIn(l connectorLookup) (*ConnectorProduct, error) {
	var entries []UninstallEntry
	for _, root := range l.uninstallKeys {
		es, err := readUninstallEntries(root)
		if err != nil {
			return nil, err
		}
		entries = append(entries, es...)
	}
	products := productsOfUpgradeCode(l.upgradeCodes, ConnectorUpgradeCode)
	var prod *ConnectorProduct
	if e, ok := MatchConnector(entries, products); ok {
		prod = &ConnectorProduct{ProductCode: e.Key, DisplayName: e.DisplayName,
			DisplayVersion: e.DisplayVersion, InstallLocation: e.InstallLocation}
		if !strings.HasPrefix(prod.ProductCode, "{") {
			prod.ProductCode = "" // not an MSI product: no code to uninstall by
		}
	}
	svc, err := readServiceHost(l.service)
	if err != nil {
		return nil, err
	}
	if svc == nil {
		return prod, nil
	}
	if prod == nil {
		prod = &ConnectorProduct{}
	}
	prod.ServiceImagePath, prod.Host = svc.ServiceImagePath, svc.Host
	prod.Application, prod.AppDirectory, prod.AppParameters = svc.Application, svc.AppDirectory, svc.AppParameters
	if prod.InstallLocation == "" {
		// The official MSI records no InstallLocation: the service's
		// program folder is where it installed.
		prod.InstallLocation = prod.AppDirectory
		if prod.InstallLocation == "" {
			prod.InstallLocation = winDir(prod.Application)
		}
	}
	return prod, nil
}

// readUninstallEntries reads every subkey of HKLM\root (a missing root is
// empty: 32-bit Windows has no WOW6432Node).
func readUninstallEntries(root string) ([]UninstallEntry, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, root, registry.ENUMERATE_SUB_KEYS|registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", hklm(root), err)
	}
	defer k.Close()
	names, err := k.ReadSubKeyNames(-1)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", hklm(root), err)
	}
	var out []UninstallEntry
	for _, n := range names {
		sk, err := registry.OpenKey(k, n, registry.QUERY_VALUE)
		if err != nil {
			continue // an entry we may not read is not the connector's
		}
		out = append(out, UninstallEntry{Key: n, DisplayName: regString(sk, "DisplayName"),
			DisplayVersion: regString(sk, "DisplayVersion"), InstallLocation: regString(sk, "InstallLocation"),
			UpgradeCode: regString(sk, "UpgradeCode")})
		sk.Close()
	}
	return out, nil
}

// productsOfUpgradeCode returns the {ProductCode}s Windows Installer lists
// under upgrade (nil when none or unreadable: detection then falls back to
// the entries' names).
func productsOfUpgradeCode(key, upgrade string) []string {
	packed, err := PackGUID(upgrade)
	if err != nil {
		return nil
	}
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, key+`\`+packed, registry.QUERY_VALUE)
	if err != nil {
		return nil
	}
	defer k.Close()
	names, err := k.ReadValueNames(-1)
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range names {
		if g, err := UnpackGUID(n); err == nil {
			out = append(out, g)
		}
	}
	return out
}

// readServiceHost reads the service's ImagePath and, for nssm, the
// program it runs (nil when the service is not registered).
func readServiceHost(name string) (*ConnectorProduct, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, serviceKeyPath(name), registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", hklm(serviceKeyPath(name)), err)
	}
	defer k.Close()
	out := &ConnectorProduct{ServiceImagePath: regString(k, "ImagePath")}
	ip, err := ParseImagePath(out.ServiceImagePath)
	if err != nil {
		return out, nil // registered without a usable command line: report it as is
	}
	if !ip.IsNSSM() {
		out.Host = HostDirect
		out.Application, out.AppParameters = ip.Exe, ip.Args
		return out, nil
	}
	out.Host = HostNSSM
	pk, err := registry.OpenKey(k, "Parameters", registry.QUERY_VALUE)
	if err != nil {
		return out, nil
	}
	defer pk.Close()
	out.Application, out.AppDirectory, out.AppParameters = regString(pk, "Application"), regString(pk, "AppDirectory"), regString(pk, "AppParameters")
	return out, nil
}

// serviceEnvValue says where a service's extra environment lives: nssm's
// Parameters\AppEnvironmentExtra, or the service key's Environment.
func serviceEnvValue(name string) (key, value string, ok bool) {
	h, err := readServiceHost(name)
	if err != nil || h == nil {
		return "", "", false
	}
	if h.Host == HostNSSM {
		return serviceKeyPath(name) + `\Parameters`, "AppEnvironmentExtra", true
	}
	return serviceKeyPath(name), "Environment", true
}
