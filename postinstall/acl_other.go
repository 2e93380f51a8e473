//go:build !windows

package postinstall

import (
	"fmt"

	"github.com/adldapctl/adldapctl/platform"
)

// othersWhoCanRead reads Windows ACLs: there are none to read here (a
// Windows layout examined from another OS).
func othersWhoCanRead(string) ([]string, error) {
	return nil, fmt.Errorf("reading a Windows access list: %w", platform.ErrNotSupported)
}

func aclFix(path string, dir bool) string {
	inherit := ""
	if dir {
		inherit = "(OI)(CI)"
	}
	return fmt.Sprintf(`icacls "%s" /inheritance:r /grant:r *S-1-5-18:%sF *S-1-5-32-544:%sF`, path, inherit, inherit)
}
