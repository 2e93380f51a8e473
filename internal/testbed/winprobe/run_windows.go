//go:build windows

package main

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

func run(args []string) int {
	switch {
	case len(args) == 2 && args[0] == "certs":
		return certs(args[1])
	case len(args) >= 4 && args[0] == "reg" && args[1] == "get":
		view := uint32(registry.WOW64_64KEY)
		rest := args[2:]
		if rest[0] == "--32" {
			view, rest = registry.WOW64_32KEY, rest[1:]
		}
		if len(rest) != 2 {
			break
		}
		return regGet(rest[0], rest[1], view)
	case len(args) == 2 && args[0] == "svc":
		return service(args[1])
	case len(args) == 1 && args[0] == "uninstall":
		return uninstall()
	}
	fmt.Fprintln(os.Stderr, usage)
	return 2
}

// printLines prints a JSON array with one element per line.
func printLines[T any](items []T) int {
	var b strings.Builder
	b.WriteString("[")
	for i, it := range items {
		j, err := json.Marshal(it)
		if err != nil {
			return fail("%v", err)
		}
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n")
		b.Write(j)
	}
	if len(items) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("]\n")
	fmt.Print(b.String())
	return 0
}

type certInfo struct {
	SHA256  string `json:"sha256"`
	SHA1    string `json:"sha1"`
	Subject string `json:"subject"`
	Issuer  string `json:"issuer"`
}

func certs(store string) int {
	name, err := windows.UTF16PtrFromString(store)
	if err != nil {
		return fail("store %q: %v", store, err)
	}
	h, err := windows.CertOpenStore(windows.CERT_STORE_PROV_SYSTEM, 0, 0,
		windows.CERT_SYSTEM_STORE_LOCAL_MACHINE|windows.CERT_STORE_READONLY_FLAG|windows.CERT_STORE_OPEN_EXISTING_FLAG,
		uintptr(unsafe.Pointer(name)))
	if err != nil {
		if errors.Is(err, windows.ERROR_FILE_NOT_FOUND) {
			return printLines([]certInfo{}) // a store nobody created is empty
		}
		return fail("open LocalMachine store %s: %v", store, err)
	}
	defer func() { _ = windows.CertCloseStore(h, 0) }()
	out := []certInfo{}
	var ctx *windows.CertContext
	for {
		ctx, err = windows.CertEnumCertificatesInStore(h, ctx)
		if ctx == nil {
			break
		}
		der := append([]byte(nil), unsafe.Slice(ctx.EncodedCert, ctx.Length)...)
		s256, s1 := sha256.Sum256(der), sha1.Sum(der)
		ci := certInfo{SHA256: hex.EncodeToString(s256[:]), SHA1: hex.EncodeToString(s1[:])}
		if c, perr := x509.ParseCertificate(der); perr == nil {
			ci.Subject, ci.Issuer = c.Subject.String(), c.Issuer.String()
		}
		out = append(out, ci)
	}
	if err != nil && !errors.Is(err, windows.Errno(windows.CRYPT_E_NOT_FOUND)) && !errors.Is(err, windows.ERROR_NO_MORE_FILES) {
		return fail("enumerate LocalMachine store %s: %v", store, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SHA256 < out[j].SHA256 })
	return printLines(out)
}

func splitKey(key string) (registry.Key, string, error) {
	root, path, _ := strings.Cut(key, `\`)
	switch strings.ToUpper(root) {
	case "HKLM", "HKEY_LOCAL_MACHINE":
		return registry.LOCAL_MACHINE, path, nil
	case "HKCU", "HKEY_CURRENT_USER":
		return registry.CURRENT_USER, path, nil
	case "HKCR", "HKEY_CLASSES_ROOT":
		return registry.CLASSES_ROOT, path, nil
	case "HKU", "HKEY_USERS":
		return registry.USERS, path, nil
	}
	return 0, "", fmt.Errorf("key %q: want a key under HKLM, HKCU, HKCR or HKU", key)
}

func regGet(key, value string, view uint32) int {
	root, path, err := splitKey(key)
	if err != nil {
		return fail("%v", err)
	}
	k, err := registry.OpenKey(root, path, registry.QUERY_VALUE|view)
	if errors.Is(err, registry.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "winprobe: no key %s\n", key)
		return 3
	}
	if err != nil {
		return fail("open %s: %v", key, err)
	}
	defer func() { _ = k.Close() }()
	n, typ, err := k.GetValue(value, nil)
	if errors.Is(err, registry.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "winprobe: no value %q in %s\n", value, key)
		return 3
	}
	if err != nil && !errors.Is(err, registry.ErrShortBuffer) {
		return fail("%s\\%s: %v", key, value, err)
	}
	switch typ {
	case registry.SZ, registry.EXPAND_SZ:
		s, _, err := k.GetStringValue(value)
		if err != nil {
			return fail("%s\\%s: %v", key, value, err)
		}
		fmt.Println(s)
	case registry.MULTI_SZ:
		ss, _, err := k.GetStringsValue(value)
		if err != nil {
			return fail("%s\\%s: %v", key, value, err)
		}
		for _, s := range ss {
			fmt.Println(s)
		}
	case registry.DWORD, registry.QWORD:
		v, _, err := k.GetIntegerValue(value)
		if err != nil {
			return fail("%s\\%s: %v", key, value, err)
		}
		fmt.Println(strconv.FormatUint(v, 10))
	default:
		buf := make([]byte, n)
		if _, _, err := k.GetValue(value, buf); err != nil {
			return fail("%s\\%s: %v", key, value, err)
		}
		fmt.Println(hex.EncodeToString(buf))
	}
	return 0
}

type recoveryAction struct {
	Type    string `json:"type"`
	DelayMS int64  `json:"delay_ms"`
}

type recovery struct {
	ResetPeriodS uint32           `json:"reset_period_s"`
	Actions      []recoveryAction `json:"actions"`
}

type serviceInfo struct {
	Name            string    `json:"name"`
	Exists          bool      `json:"exists"`
	State           string    `json:"state,omitempty"`
	PID             uint32    `json:"pid"`
	Win32ExitCode   uint32    `json:"win32_exit_code"`
	ServiceExitCode uint32    `json:"service_exit_code"`
	ImagePath       string    `json:"image_path,omitempty"`
	StartType       string    `json:"start_type,omitempty"`
	DisplayName     string    `json:"display_name,omitempty"`
	Recovery        *recovery `json:"recovery"`
	RecoveryError   string    `json:"recovery_error,omitempty"`
}

var states = map[svc.State]string{
	svc.Stopped: "stopped", svc.StartPending: "start_pending", svc.StopPending: "stop_pending",
	svc.Running: "running", svc.ContinuePending: "continue_pending", svc.PausePending: "pause_pending",
	svc.Paused: "paused",
}

var startTypes = map[uint32]string{
	mgr.StartAutomatic: "automatic", mgr.StartManual: "manual", mgr.StartDisabled: "disabled",
	windows.SERVICE_BOOT_START: "boot", windows.SERVICE_SYSTEM_START: "system",
}

var actionTypes = map[int]string{
	mgr.NoAction: "none", mgr.ComputerReboot: "reboot", mgr.ServiceRestart: "restart", mgr.RunCommand: "run_command",
}

func service(name string) int {
	m, err := mgr.Connect()
	if err != nil {
		return fail("connect to the service control manager: %v", err)
	}
	defer func() { _ = m.Disconnect() }()
	info := serviceInfo{Name: name}
	s, err := m.OpenService(name)
	if errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) {
		return printOne(info)
	}
	if err != nil {
		return fail("open service %q: %v", name, err)
	}
	defer func() { _ = s.Close() }()
	info.Exists = true
	st, err := s.Query()
	if err != nil {
		return fail("query service %q: %v", name, err)
	}
	info.State = states[st.State]
	if info.State == "" {
		info.State = strconv.Itoa(int(st.State))
	}
	info.PID, info.Win32ExitCode, info.ServiceExitCode = st.ProcessId, st.Win32ExitCode, st.ServiceSpecificExitCode
	// Not mgr's Config: it also asks QueryServiceConfig2 for levels Wine
	// lacks ("Invalid level").
	cfg, err := queryConfig(s.Handle)
	if err != nil {
		return fail("service %q config: %v", name, err)
	}
	info.ImagePath = windows.UTF16PtrToString(cfg.BinaryPathName)
	info.DisplayName = windows.UTF16PtrToString(cfg.DisplayName)
	info.StartType = startTypes[cfg.StartType]
	if info.StartType == "" {
		info.StartType = strconv.Itoa(int(cfg.StartType))
	}
	acts, err := s.RecoveryActions()
	if err == nil {
		var reset uint32
		reset, err = s.ResetPeriod()
		if err == nil && len(acts) > 0 {
			info.Recovery = &recovery{ResetPeriodS: reset, Actions: []recoveryAction{}}
			for _, a := range acts {
				t := actionTypes[a.Type]
				if t == "" {
					t = strconv.Itoa(a.Type)
				}
				info.Recovery.Actions = append(info.Recovery.Actions, recoveryAction{Type: t, DelayMS: a.Delay.Milliseconds()})
			}
		}
	}
	if err != nil {
		info.RecoveryError = err.Error()
	}
	return printOne(info)
}

// queryConfig is QueryServiceConfig with a buffer that grows as asked.
func queryConfig(h windows.Handle) (*windows.QUERY_SERVICE_CONFIG, error) {
	n := uint32(1024)
	for {
		b := make([]byte, n)
		p := (*windows.QUERY_SERVICE_CONFIG)(unsafe.Pointer(&b[0]))
		err := windows.QueryServiceConfig(h, p, n, &n)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER) || n <= uint32(len(b)) || n > 1<<20 {
			return nil, err
		}
	}
}

func printOne(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return fail("%v", err)
	}
	fmt.Println(string(b))
	return 0
}

type arpEntry struct {
	Key             string `json:"key"`
	View            string `json:"view"`
	ProductCode     string `json:"product_code"`
	UpgradeCode     string `json:"upgrade_code"`
	DisplayName     string `json:"display_name"`
	DisplayVersion  string `json:"display_version"`
	Publisher       string `json:"publisher"`
	InstallLocation string `json:"install_location"`
	UninstallString string `json:"uninstall_string"`
}

const uninstallKey = `SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall`

func uninstall() int {
	upgrades, err := upgradeCodes()
	if err != nil {
		return fail("%v", err)
	}
	out := []arpEntry{}
	for _, view := range []struct {
		name string
		flag uint32
	}{{"64", registry.WOW64_64KEY}, {"32", registry.WOW64_32KEY}} {
		k, err := registry.OpenKey(registry.LOCAL_MACHINE, uninstallKey, registry.ENUMERATE_SUB_KEYS|view.flag)
		if errors.Is(err, registry.ErrNotExist) {
			continue
		}
		if err != nil {
			return fail(`open HKLM\%s (%s-bit view): %v`, uninstallKey, view.name, err)
		}
		names, err := k.ReadSubKeyNames(-1)
		_ = k.Close()
		if err != nil {
			return fail(`list HKLM\%s (%s-bit view): %v`, uninstallKey, view.name, err)
		}
		sort.Strings(names)
		for _, n := range names {
			sk, err := registry.OpenKey(registry.LOCAL_MACHINE, uninstallKey+`\`+n, registry.QUERY_VALUE|view.flag)
			if err != nil {
				return fail(`open HKLM\%s\%s: %v`, uninstallKey, n, err)
			}
			str := func(v string) string { s, _, _ := sk.GetStringValue(v); return s }
			e := arpEntry{
				Key: n, View: view.name,
				DisplayName: str("DisplayName"), DisplayVersion: str("DisplayVersion"),
				Publisher: str("Publisher"), InstallLocation: str("InstallLocation"),
				UninstallString: str("UninstallString"),
			}
			_ = sk.Close()
			if isGUID(n) {
				e.ProductCode = strings.ToUpper(n)
				e.UpgradeCode = upgrades[e.ProductCode]
			}
			out = append(out, e)
		}
	}
	return printLines(out)
}

// upgradeCodes maps product codes to their upgrade codes, from the
// installer's packed-GUID registry (HKLM\SOFTWARE\Classes\Installer\UpgradeCodes).
func upgradeCodes() (map[string]string, error) {
	const path = `SOFTWARE\Classes\Installer\UpgradeCodes`
	out := map[string]string{}
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, path, registry.ENUMERATE_SUB_KEYS|registry.WOW64_64KEY)
	if errors.Is(err, registry.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf(`open HKLM\%s: %w`, path, err)
	}
	defer func() { _ = k.Close() }()
	names, err := k.ReadSubKeyNames(-1)
	if err != nil {
		return nil, fmt.Errorf(`list HKLM\%s: %w`, path, err)
	}
	for _, packedUpgrade := range names {
		upgrade, ok := unpackGUID(packedUpgrade)
		if !ok {
			continue
		}
		sk, err := registry.OpenKey(registry.LOCAL_MACHINE, path+`\`+packedUpgrade, registry.QUERY_VALUE|registry.WOW64_64KEY)
		if err != nil {
			return nil, fmt.Errorf(`open HKLM\%s\%s: %w`, path, packedUpgrade, err)
		}
		products, err := sk.ReadValueNames(-1)
		_ = sk.Close()
		if err != nil {
			return nil, fmt.Errorf(`list HKLM\%s\%s: %w`, path, packedUpgrade, err)
		}
		for _, p := range products {
			if product, ok := unpackGUID(p); ok {
				out[product] = upgrade
			}
		}
	}
	return out, nil
}

func isGUID(s string) bool {
	_, err := windows.GUIDFromString(s)
	return err == nil
}
