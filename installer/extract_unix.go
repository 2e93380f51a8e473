//go:build !windows

package installer

import (
	"errors"
	"syscall"
)

// isNoSpace tells a full disk or an exhausted quota from other write errors.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
