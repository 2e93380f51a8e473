//go:build windows

package postinstall

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

// trustedSIDs may read the connector's secrets: SYSTEM (the service's
// account), Administrators and TrustedInstaller.
var trustedSIDs = map[string]bool{
	"S-1-5-18":     true,
	"S-1-5-32-544": true,
	"S-1-5-80-956008885-3418522649-1831038044-1851480146-3050730450": true,
}

// readGrants are the access rights that let a principal read a file.
const readGrants = windows.FILE_READ_DATA | windows.GENERIC_READ | windows.GENERIC_ALL | windows.FILE_GENERIC_READ&^windows.SYNCHRONIZE

// othersWhoCanRead returns the principals other than SYSTEM,
// Administrators and TrustedInstaller that path's ACL lets read it.
func othersWhoCanRead(path string) ([]string, error) {
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return nil, err
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return nil, err
	}
	if dacl == nil {
		return []string{"Everyone (the file has no access list)"}, nil
	}
	var who []string
	for i := uint32(0); i < uint32(dacl.AceCount); i++ {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return nil, err
		}
		if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE || ace.Header.AceFlags&windows.INHERIT_ONLY_ACE != 0 {
			continue
		}
		if uint32(ace.Mask)&uint32(readGrants) == 0 {
			continue
		}
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
		if trustedSIDs[sid.String()] {
			continue
		}
		name := sid.String()
		if acct, dom, _, err := sid.LookupAccount(""); err == nil {
			name = acct
			if dom != "" {
				name = dom + `\` + acct
			}
		}
		who = append(who, name)
	}
	return who, nil
}

// aclFix is the command that makes path readable by SYSTEM and
// Administrators only.
func aclFix(path string, dir bool) string {
	inherit := ""
	if dir {
		inherit = "(OI)(CI)"
	}
	return fmt.Sprintf(`icacls "%s" /inheritance:r /grant:r *S-1-5-18:%sF *S-1-5-32-544:%sF`, path, inherit, inherit)
}
