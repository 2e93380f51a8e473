//go:build !windows

package postinstall

import (
	"errors"
	"syscall"
)

// isConnRefused reports a TCP connection the peer refused (RST).
func isConnRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }
