package installer

import (
	"errors"

	"golang.org/x/sys/windows"
)

// isNoSpace tells a full disk or an exhausted quota from other write errors.
func isNoSpace(err error) bool {
	return errors.Is(err, windows.ERROR_DISK_FULL) || errors.Is(err, windows.ERROR_HANDLE_DISK_FULL)
}
