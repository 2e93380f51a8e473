// Command winprobe is the second process of adldapctl's Windows tests: run
// under Wine (testfeed.BuildWindowsPrograms builds it as winprobe.exe) next
// to the program under test, it reads the real Windows state through the
// Windows APIs and prints it in a stable form, so a test asserts results
// without trusting the program's own account of them.
//
//	winprobe certs STORE          LocalMachine certificate store STORE (Root, CA,
//	                              TrustedPeople, ...): a JSON array, one
//	                              certificate per line, sorted by sha256:
//	                              {"sha256":HEX,"sha1":HEX,"subject":DN,"issuer":DN}
//	winprobe reg get KEY VALUE    the value, as text: REG_SZ/REG_EXPAND_SZ as
//	                              stored (not expanded), REG_MULTI_SZ one entry per
//	                              line, REG_DWORD/REG_QWORD in decimal, binary in hex.
//	                              KEY is HKLM\..., HKCU\..., HKCR\..., HKU\...;
//	                              --32 before KEY reads the 32-bit view (WOW6432Node).
//	                              Exit 3 when the key or value does not exist.
//	winprobe svc NAME             the service as one JSON object:
//	                              {"name","exists","state","pid","win32_exit_code",
//	                              "service_exit_code","image_path","start_type",
//	                              "display_name","recovery":{"reset_period_s",
//	                              "actions":[{"type","delay_ms"}]}|null,"recovery_error"}
//	                              ("exists":false and nothing else for a missing service)
//	winprobe uninstall            the uninstall (ARP) entries of both registry views:
//	                              a JSON array, one entry per line, sorted by view
//	                              then key: {"key","view":"64"|"32","product_code",
//	                              "upgrade_code","display_name","display_version",
//	                              "publisher","install_location","uninstall_string"}
//	                              (upgrade_code from HKLM\SOFTWARE\Classes\Installer\UpgradeCodes).
//
// Exit codes: 0 done, 2 usage, 3 not found (reg get), 1 any other error.
package main

import (
	"fmt"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

const usage = `usage: winprobe certs STORE | reg get [--32] KEY VALUE | svc NAME | uninstall`

func fail(format string, a ...any) int {
	fmt.Fprintf(os.Stderr, "winprobe: "+format+"\n", a...)
	return 1
}
