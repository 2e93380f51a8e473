//go:build windows

package platform

import (
	"errors"
	"fmt"
	"slices"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// servicesKey is where the SCM keeps each service's registration.
const servicesKey = `SYSTEM\CurrentControlSet\Services`

func serviceKeyPath(name string) string { return servicesKey + `\` + name }

// hklm names a key of HKEY_LOCAL_MACHINE as the user reads it (reg.exe).
func hklm(key string) string { return `HKLM\` + key }

// readMultiSZ returns the REG_MULTI_SZ value of HKLM\key (nil when the
// value is missing).
func readMultiSZ(key, value string) ([]string, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, key, registry.QUERY_VALUE)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", hklm(key), err)
	}
	defer k.Close()
	v, _, err := k.GetStringsValue(value)
	if errors.Is(err, registry.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s\\%s: %w", hklm(key), value, err)
	}
	return v, nil
}

// setRegEnv merges env into the REG_MULTI_SZ environment value of
// HKLM\key (see MergeEnvBlock): entries that are not adldapctl's are kept,
// and an empty result deletes the value. The key must exist.
func setRegEnv(key, value string, env map[string]string) (bool, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, key, registry.QUERY_VALUE|registry.SET_VALUE)
	if err != nil {
		return false, fmt.Errorf("open %s: %w", hklm(key), err)
	}
	defer k.Close()
	old, _, err := k.GetStringsValue(value)
	exists := err == nil
	if err != nil && !errors.Is(err, registry.ErrNotExist) {
		return false, fmt.Errorf("read %s\\%s: %w", hklm(key), value, err)
	}
	merged := MergeEnvBlock(old, env)
	switch {
	case len(merged) == 0 && !exists:
		return false, nil
	case len(merged) == 0:
		if err := k.DeleteValue(value); err != nil {
			return false, fmt.Errorf("delete %s\\%s: %w", hklm(key), value, err)
		}
		return true, nil
	case exists && slices.Equal(old, merged):
		return false, nil
	}
	if err := k.SetStringsValue(value, merged); err != nil {
		return false, fmt.Errorf("write %s\\%s: %w", hklm(key), value, err)
	}
	return true, nil
}

// restrictKey gives HKLM\key a protected ACL: SYSTEM and Administrators
// only (the nssm Parameters key, once it holds a proxy password; nssm
// runs as LocalSystem and reads it as such).
func restrictKey(key string) error {
	sd, err := windows.SecurityDescriptorFromString("D:P(A;OICI;KA;;;SY)(A;OICI;KA;;;BA)")
	if err != nil {
		return err
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return err
	}
	return windows.SetNamedSecurityInfo(`MACHINE\`+key, windows.SE_REGISTRY_KEY,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil)
}

// regString reads a string value (REG_SZ, or REG_EXPAND_SZ expanded); ""
// when missing.
func regString(k registry.Key, name string) string {
	v, typ, err := k.GetStringValue(name)
	if err != nil {
		return ""
	}
	if typ == registry.EXPAND_SZ {
		if x, err := registry.ExpandString(v); err == nil {
			return x
		}
	}
	return v
}
