//go:build !windows

package platform

import "os"

func isElevated() bool { return os.Geteuid() == 0 }

// OwnByAdmin gives path to root (uid 0, gid 0) when adldapctl runs as root.
func OwnByAdmin(path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	return os.Lchown(path, 0, 0)
}
